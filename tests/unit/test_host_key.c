/* The host key policy (ssh/host_key.c) with real libssh keys. The
 * fingerprints were printed by OpenSSH's `ssh-keygen -lf`. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "test.h"

#include "ssh/host_key.h"

#define ED1 "AAAAC3NzaC1lZDI1NTE5AAAAIBnuatSWq80+rghx7d5il1IQ7hTvq45cPW6EmeEKZtch"
#define ED1_FP "SHA256:1j6iUZHKShOi5E16yTuNKdwyDpZahP5iBA462O9yAGg"
#define ED2 "AAAAC3NzaC1lZDI1NTE5AAAAIGOH0vUR0zP3/jidbikechHLKzxhm+Xs+0GrEH093qt1"
#define ED2_FP "SHA256:hVzP9vsxnFxrU9yYs83FPD/JNms7jfkJLJRERD3d4PE"

static char dir[64];
static char user_file[128], tether_file[128];

static ssh_key load(const char *base64)
{
    ssh_key key = NULL;
    if (ssh_pki_import_pubkey_base64(base64, SSH_KEYTYPE_ED25519, &key) != SSH_OK)
        return NULL;
    return key;
}

static void fresh_files(const char *user_text)
{
    snprintf(dir, sizeof(dir), "/tmp/tether-host-key-XXXXXX");
    if (!mkdtemp(dir))
        abort();
    snprintf(user_file, sizeof(user_file), "%s/known_hosts", dir);
    snprintf(tether_file, sizeof(tether_file), "%s/tether/known_hosts", dir);
    if (user_text) {
        FILE *f = fopen(user_file, "w");
        fputs(user_text, f);
        fclose(f);
    }
}

static void remove_files(void)
{
    char command[200];
    snprintf(command, sizeof(command), "rm -rf %s", dir);
    if (system(command) != 0)
        abort();
}

static int verify(struct host_key_policy *p, const char *base64, char *cause, size_t cause_len)
{
    ssh_key key = load(base64);
    char accepted[4096] = "";
    p->host = "203.0.113.7";
    p->port = 22;
    p->user_known_hosts = user_file;
    p->tether_known_hosts = tether_file;
    int rc = key ? host_key_verify(p, key, accepted, sizeof(accepted), cause, cause_len) : -99;
    ssh_key_free(key);
    return rc;
}

TEST(fingerprint_matches_ssh_keygen)
{
    ssh_key key = load(ED1);
    char fp[HOST_KEY_FINGERPRINT_MAX];
    CHECK(key != NULL);
    CHECK_INT(host_key_fingerprint(key, fp), 0);
    CHECK_STR(fp, ED1_FP);
    ssh_key_free(key);
}

TEST(unknown_key_is_refused_with_its_fingerprint)
{
    fresh_files(NULL);
    struct host_key_policy p = {0};
    char cause[2048];
    CHECK_INT(verify(&p, ED1, cause, sizeof(cause)), -EPERM);
    CHECK(strstr(cause, "is not known") != NULL);
    CHECK(strstr(cause, "--host-key-fingerprint " ED1_FP) != NULL);
    CHECK(access(tether_file, F_OK) != 0);
    remove_files();
}

TEST(pinned_fingerprint_accepts_and_records)
{
    fresh_files(NULL);
    struct host_key_policy p = {.pinned_fingerprint = ED1_FP "="};
    char cause[2048];
    CHECK_INT(verify(&p, ED1, cause, sizeof(cause)), 0);
    CHECK(access(tether_file, F_OK) == 0);
    struct host_key_policy again = {0};
    CHECK_INT(verify(&again, ED1, cause, sizeof(cause)), 0); /* now known */
    CHECK_INT(verify(&again, ED2, cause, sizeof(cause)), -EPERM);
    CHECK(strstr(cause, "HOST KEY MISMATCH") != NULL);
    CHECK(strstr(cause, "tether/known_hosts line 1") != NULL);
    remove_files();
}

TEST(wrong_pinned_fingerprint_is_refused)
{
    fresh_files(NULL);
    struct host_key_policy p = {.pinned_fingerprint = ED2_FP};
    char cause[2048];
    CHECK_INT(verify(&p, ED1, cause, sizeof(cause)), -EPERM);
    CHECK(strstr(cause, ED1_FP) != NULL);
    CHECK(strstr(cause, "not the " ED2_FP) != NULL);
    remove_files();
}

TEST(changed_key_is_refused_even_with_accept_new)
{
    fresh_files("# keys\n203.0.113.7 ssh-ed25519 " ED2 "\n");
    struct host_key_policy p = {.accept_new = 1};
    char cause[2048];
    CHECK_INT(verify(&p, ED1, cause, sizeof(cause)), -EPERM);
    CHECK(strstr(cause, "HOST KEY MISMATCH for 203.0.113.7") != NULL);
    CHECK(strstr(cause, "known_hosts line 2") != NULL);
    remove_files();
}

TEST(accept_new_records_the_key)
{
    fresh_files(NULL);
    struct host_key_policy p = {.accept_new = 1};
    char cause[2048];
    CHECK_INT(verify(&p, ED1, cause, sizeof(cause)), 0);
    FILE *f = fopen(tether_file, "r");
    char line[256] = "";
    CHECK(f && fgets(line, sizeof(line), f));
    if (f)
        fclose(f);
    CHECK_STR(line, "203.0.113.7 ssh-ed25519 " ED1 "\n");
    remove_files();
}

TEST(key_accepted_this_run_must_not_change)
{
    fresh_files(NULL);
    struct host_key_policy p = {.accept_new = 1, .accepted_key = "ssh-ed25519 " ED1};
    char cause[2048];
    tether_file[0] = '\0'; /* nothing recorded anywhere */
    ssh_key key = load(ED2);
    char accepted[4096];
    p.host = "203.0.113.7";
    p.port = 22;
    p.user_known_hosts = user_file;
    CHECK_INT(host_key_verify(&p, key, accepted, sizeof(accepted), cause, sizeof(cause)), -EPERM);
    CHECK(strstr(cause, "differs from the key accepted earlier") != NULL);
    ssh_key_free(key);
    remove_files();
}

RUN_TESTS("host_key", TEST_ENTRY(fingerprint_matches_ssh_keygen),
          TEST_ENTRY(unknown_key_is_refused_with_its_fingerprint),
          TEST_ENTRY(pinned_fingerprint_accepts_and_records),
          TEST_ENTRY(wrong_pinned_fingerprint_is_refused),
          TEST_ENTRY(changed_key_is_refused_even_with_accept_new),
          TEST_ENTRY(accept_new_records_the_key), TEST_ENTRY(key_accepted_this_run_must_not_change))
