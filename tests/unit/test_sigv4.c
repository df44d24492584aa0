/* Tests for src/aws/sigv4: the official aws-c-auth SigV4 suite (a copy in
 * tests/unit/data/sigv4; header signing, byte for byte), verification round
 * trips and rejections, and the AppSync Events IAM request shape. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "aws/sigv4.h"
#include "core/buf.h"
#include "test.h"

#define AKID "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_TIME 1440938160 /* 2015-08-30T12:36:00Z */
#define MIN_SUITE_CASES 30
#define MAX_TEST_HEADERS (SIGV4_MAX_HEADERS + 8)

/* ------------------------------------------------------------- helpers */

struct keyring {
    const char *access_key_id;
    const char *secret;
    const char *token; /* NULL: identity without a session token */
};

static int keyring_lookup(void *ctx, const char *access_key_id, char *secret_out, size_t secret_cap,
                          char *token_out, size_t token_cap)
{
    const struct keyring *k = ctx;
    if (strcmp(access_key_id, k->access_key_id) != 0)
        return -ENOENT;
    snprintf(secret_out, secret_cap, "%s", k->secret);
    snprintf(token_out, token_cap, "%s", k->token ? k->token : "");
    return 0;
}

static int read_whole_file(const char *path, struct buf *out)
{
    FILE *f = fopen(path, "rb");
    char chunk[4096];
    size_t n;
    int rc = 0;
    if (!f)
        return -errno;
    while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = buf_append(out, chunk, n);
    if (rc == 0 && ferror(f))
        rc = -EIO;
    fclose(f);
    return rc == 0 ? buf_terminate(out) : rc;
}

/* Reads a file with trailing whitespace removed; NULL if unreadable. */
static char *read_trimmed(const char *dir, const char *name)
{
    char path[4096];
    struct buf b = BUF_INIT;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (read_whole_file(path, &b) < 0) {
        buf_free(&b);
        return NULL;
    }
    while (buf_length(&b) > 0 && strchr(" \t\r\n", buf_bytes(&b)[buf_length(&b) - 1]))
        b.len--;
    return buf_steal(&b, NULL);
}

/* ------------------------------------------------ request.txt parsing */

struct parsed_request {
    char *method, *path, *query;
    char *names[MAX_TEST_HEADERS], *values[MAX_TEST_HEADERS];
    struct sigv4_header headers[MAX_TEST_HEADERS];
    size_t header_count;
    char *body;
    size_t body_len;
};

static void parsed_request_free(struct parsed_request *r)
{
    free(r->method);
    free(r->path);
    free(r->query);
    for (size_t i = 0; i < r->header_count; i++) {
        free(r->names[i]);
        free(r->values[i]);
    }
    free(r->body);
    memset(r, 0, sizeof(*r));
}

/* "METHOD TARGET HTTP/1.1"; the target may contain spaces. */
static int parse_request_line(const char *line, size_t len, struct parsed_request *r)
{
    const char *sp1 = memchr(line, ' ', len), *sp2 = line + len;
    while (sp2 > line && sp2[-1] != ' ')
        sp2--;
    if (!sp1 || sp2 - 1 <= sp1)
        return -EINVAL;
    const char *target = sp1 + 1, *end = sp2 - 1;
    const char *q = memchr(target, '?', (size_t)(end - target));
    r->method = strndup(line, (size_t)(sp1 - line));
    r->path = strndup(target, (size_t)((q ? q : end) - target));
    r->query = q ? strndup(q + 1, (size_t)(end - q - 1)) : strdup("");
    return r->method && r->path && r->query ? 0 : -ENOMEM;
}

/* A continuation line is kept (with its leading blanks) after a '\n', so the
 * signer's own folding is what the suite checks. */
static int add_continuation(struct parsed_request *r, const char *line, size_t len)
{
    if (r->header_count == 0)
        return -EINVAL;
    char **v = &r->values[r->header_count - 1];
    size_t old = strlen(*v);
    char *joined = realloc(*v, old + len + 2);
    if (!joined)
        return -ENOMEM;
    joined[old] = '\n';
    memcpy(joined + old + 1, line, len);
    joined[old + len + 1] = '\0';
    *v = joined;
    return 0;
}

static int add_header_line(struct parsed_request *r, const char *line, size_t len)
{
    const char *colon = memchr(line, ':', len);
    if (line[0] == ' ' || line[0] == '\t')
        return add_continuation(r, line, len);
    if (!colon || r->header_count == MAX_TEST_HEADERS)
        return -EINVAL;
    r->names[r->header_count] = strndup(line, (size_t)(colon - line));
    r->values[r->header_count] = strndup(colon + 1, (size_t)(line + len - colon - 1));
    r->header_count++;
    return r->names[r->header_count - 1] && r->values[r->header_count - 1] ? 0 : -ENOMEM;
}

static void finish_headers(struct parsed_request *r)
{
    for (size_t i = 0; i < r->header_count; i++)
        r->headers[i] = (struct sigv4_header){r->names[i], r->values[i]};
}

static int parse_request_text(const char *text, size_t len, struct parsed_request *r)
{
    const char *p = text, *end = text + len;
    int rc = 0;
    memset(r, 0, sizeof(*r));
    for (int first = 1; rc == 0 && p < end; first = 0) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        size_t line_len = (size_t)(line_end - p) - (line_end > p && line_end[-1] == '\r');
        const char *line = p;
        p = nl ? nl + 1 : end;
        if (!first && line_len == 0)
            break;
        rc = first ? parse_request_line(line, line_len, r) : add_header_line(r, line, line_len);
    }
    r->body_len = (size_t)(end - p);
    r->body = strndup(p, r->body_len);
    finish_headers(r);
    return rc == 0 && r->body ? 0 : rc ? rc : -ENOMEM;
}

/* ------------------------------------------------- context.json parsing */

struct suite_context {
    char access_key_id[64], secret[128], token[1024];
    char region[64], service[64];
    time_t timestamp;
    int normalize, sign_body, omit_session_token;
};

static void copy_json_string(json_t *obj, const char *key, char *out, size_t cap)
{
    const char *s = json_string_value(json_object_get(obj, key));
    snprintf(out, cap, "%s", s ? s : "");
}

/* "2015-08-30T12:36:00Z" -> time_t, through the x-amz-date parser. */
static int iso_to_time(const char *iso, time_t *out)
{
    char amz[SIGV4_AMZ_DATE_SIZE];
    size_t n = 0;
    for (; *iso && n < sizeof(amz) - 1; iso++)
        if (*iso != '-' && *iso != ':')
            amz[n++] = *iso;
    amz[n] = '\0';
    return sigv4_parse_amz_date(amz, out);
}

static int load_context(const char *dir, struct suite_context *c)
{
    char path[4096];
    json_error_t err;
    snprintf(path, sizeof(path), "%s/context.json", dir);
    json_t *root = json_load_file(path, 0, &err);
    if (!root)
        return -EINVAL;
    json_t *creds = json_object_get(root, "credentials");
    memset(c, 0, sizeof(*c));
    copy_json_string(creds, "access_key_id", c->access_key_id, sizeof(c->access_key_id));
    copy_json_string(creds, "secret_access_key", c->secret, sizeof(c->secret));
    copy_json_string(creds, "token", c->token, sizeof(c->token));
    copy_json_string(root, "region", c->region, sizeof(c->region));
    copy_json_string(root, "service", c->service, sizeof(c->service));
    c->normalize = json_is_true(json_object_get(root, "normalize"));
    c->sign_body = json_is_true(json_object_get(root, "sign_body"));
    c->omit_session_token = json_is_true(json_object_get(root, "omit_session_token"));
    int rc = iso_to_time(json_string_value(json_object_get(root, "timestamp")), &c->timestamp);
    json_decref(root);
    return rc;
}

/* -------------------------------------------------------- suite runner */

/* The suite lives in the repository, under SUITE_SUBDIR. The test binary is
 * built somewhere below the repository's root (build/tests/ or
 * build/san/tests/), so the suite is found by walking up from the binary's
 * own directory, whatever the current directory is; $TETHER_SIGV4_SUITE
 * overrides the search. */
#define SUITE_SUBDIR "tests/unit/data/sigv4/v4"

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static const char *find_suite(void)
{
    static char found[PATH_MAX + sizeof(SUITE_SUBDIR) + 1];
    char dir[PATH_MAX];
    const char *env = getenv("TETHER_SIGV4_SUITE");
    if (env && *env)
        return env;
    ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
    if (n <= 0)
        return is_dir(SUITE_SUBDIR) ? SUITE_SUBDIR : NULL;
    dir[n] = '\0';

    /* Drop one path component at a time, down to the root. */
    for (char *slash = strrchr(dir, '/'); slash; slash = strrchr(dir, '/')) {
        *slash = '\0';
        snprintf(found, sizeof(found), "%s/%s", dir, SUITE_SUBDIR);
        if (is_dir(found))
            return found;
    }
    return is_dir(SUITE_SUBDIR) ? SUITE_SUBDIR : NULL;
}

static int compare_expected(const char *dir, const char *file, const char *got)
{
    char *want = read_trimmed(dir, file);
    int ok = want && got && strcmp(want, got) == 0;
    if (!ok)
        fprintf(stderr, "  %s/%s differs:\n--- expected\n%s\n--- got\n%s\n", dir, file,
                want ? want : "(unreadable)", got ? got : "(null)");
    free(want);
    return ok;
}

/* The Authorization line of header-signed-request.txt must equal ours. */
static int compare_authorization(const char *dir, const char *got)
{
    char *signed_req = read_trimmed(dir, "header-signed-request.txt");
    const char *line = signed_req ? strstr(signed_req, "\nAuthorization:") : NULL;
    int ok = 0;
    if (line) {
        line += strlen("\nAuthorization:");
        size_t len = strcspn(line, "\r\n");
        ok = strlen(got) == len && strncmp(line, got, len) == 0;
    }
    if (!ok)
        fprintf(stderr, "  %s: Authorization differs, got %s\n", dir, got);
    free(signed_req);
    return ok;
}

/* Adds the signer's headers to the parsed request and verifies it. */
static int verify_suite_case(struct parsed_request *r, const struct suite_context *c,
                             const struct sigv4_signed *s)
{
    struct sigv4_header added[4];
    struct keyring k = {c->access_key_id, c->secret, c->token[0] ? c->token : NULL};
    struct sigv4_verify_params vp = {c->region, c->service, c->timestamp, 0, c->normalize, 0};
    struct sigv4_request req = {r->method,       r->path, r->query,   r->headers,
                                r->header_count, r->body, r->body_len};
    char cause[256] = "";
    size_t n = sigv4_signed_headers_to_add(s, added);
    for (size_t i = 0; i < n && req.header_count < MAX_TEST_HEADERS; i++)
        r->headers[req.header_count++] = added[i];
    int rc = sigv4_verify(&req, &vp, keyring_lookup, &k, cause, sizeof(cause));
    if (rc != 0)
        fprintf(stderr, "  verify failed (%d): %s\n", rc, cause);
    return rc == 0;
}

static int check_signed_outputs(const char *dir, const struct sigv4_signed *s)
{
    int ok = compare_expected(dir, "header-canonical-request.txt", s->canonical_request);
    ok &= compare_expected(dir, "header-string-to-sign.txt", s->string_to_sign);
    ok &= compare_expected(dir, "header-signature.txt", s->signature);
    ok &= compare_authorization(dir, s->authorization);
    return ok;
}

static int sign_suite_case(const char *dir, struct parsed_request *r, const struct suite_context *c)
{
    struct sigv4_credentials creds = {c->access_key_id, c->secret, c->token};
    struct sigv4_params p = {c->region, c->service,   c->timestamp,         c->normalize,
                             0,         c->sign_body, c->omit_session_token};
    struct sigv4_request req = {r->method,       r->path, r->query,   r->headers,
                                r->header_count, r->body, r->body_len};
    struct sigv4_signed s;
    char cause[256] = "";
    int rc = sigv4_sign(&req, &creds, &p, &s, cause, sizeof(cause));
    if (rc != 0) {
        fprintf(stderr, "  %s: sigv4_sign failed (%d): %s\n", dir, rc, cause);
        return 0;
    }
    int ok = check_signed_outputs(dir, &s) && verify_suite_case(r, c, &s);
    sigv4_signed_free(&s);
    return ok;
}

static int run_suite_case(const char *dir)
{
    struct buf text = BUF_INIT;
    struct parsed_request r;
    struct suite_context c;
    char path[4096];
    int ok = 0;
    memset(&r, 0, sizeof(r));
    snprintf(path, sizeof(path), "%s/request.txt", dir);
    if (read_whole_file(path, &text) == 0 &&
        parse_request_text(buf_bytes(&text), buf_length(&text), &r) == 0 &&
        load_context(dir, &c) == 0)
        ok = sign_suite_case(dir, &r, &c);
    else
        fprintf(stderr, "  %s: could not read request.txt or context.json\n", dir);
    parsed_request_free(&r);
    buf_free(&text);
    return ok;
}

static int is_case_dir(const char *suite, const char *name, char *dir, size_t cap)
{
    struct stat st;
    if (name[0] == '.')
        return 0;
    snprintf(dir, cap, "%s/%s", suite, name);
    char probe[4096];
    snprintf(probe, sizeof(probe), "%s/request.txt", dir);
    return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && stat(probe, &st) == 0;
}

/* Every case directory of the suite; only the header-signing outputs
 * (header-*.txt) are checked: the query-* files describe presigned URLs,
 * which tether does not produce, so they are skipped. Each case is also
 * verified with sigv4_verify after signing. */
TEST(official_suite_header_signing)
{
    const char *suite = find_suite();
    struct dirent **entries = NULL;
    int found = 0, passed = 0;
    int n = suite ? scandir(suite, &entries, NULL, alphasort) : -1;
    for (int i = 0; i < n; i++) {
        char dir[2048];
        if (is_case_dir(suite, entries[i]->d_name, dir, sizeof(dir))) {
            found++;
            if (run_suite_case(dir))
                passed++;
            else
                fprintf(stderr, "  suite case %s failed\n", entries[i]->d_name);
        }
        free(entries[i]);
    }
    free(entries);
    printf("sigv4 suite (%s): %d of %d cases match\n", suite ? suite : "not found", passed, found);
    CHECK(suite != NULL);
    CHECK(found >= MIN_SUITE_CASES);
    CHECK_INT(passed, found);
}

/* ------------------------------------------------ building-block tests */

TEST(amz_date_round_trip)
{
    char s[SIGV4_AMZ_DATE_SIZE];
    time_t t = 0;
    sigv4_format_amz_date(SUITE_TIME, s);
    CHECK_STR(s, "20150830T123600Z");
    CHECK_INT(sigv4_parse_amz_date("20150830T123600Z", &t), 0);
    CHECK_INT(t, SUITE_TIME);
    CHECK_INT(sigv4_parse_amz_date("20000229T235959Z", &t), 0);
    sigv4_format_amz_date(t, s);
    CHECK_STR(s, "20000229T235959Z");
    sigv4_format_amz_date(0, s);
    CHECK_STR(s, "19700101T000000Z");
}

TEST(amz_date_rejects_malformed)
{
    static const char *const bad[] = {"",
                                      "2015083T123600Z",
                                      "20150830T123600",
                                      "20150830 123600Z",
                                      "20150830T123600Z ",
                                      "2015-08-30T12:36:00Z",
                                      "20150230T000000Z",
                                      "19000229T000000Z",
                                      "20151301T000000Z",
                                      "20150830T240000Z",
                                      "20150830T126000Z",
                                      "2015083aT123600Z"};
    time_t t;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_INT(sigv4_parse_amz_date(bad[i], &t), -EINVAL);
    CHECK_INT(sigv4_parse_amz_date(NULL, &t), -EINVAL);
}

/* The example from AWS's "derive a signing key" documentation. */
TEST(signing_key_known_answer)
{
    unsigned char key[SIGV4_KEY_SIZE];
    char hex[SIGV4_HEX_SIZE];
    CHECK_INT(sigv4_signing_key(key, SECRET, "20120215", "us-east-1", "iam"), 0);
    for (size_t i = 0; i < sizeof(key); i++)
        snprintf(hex + 2 * i, 3, "%02x", key[i]);
    CHECK_STR(hex, "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
    CHECK_INT(sigv4_signing_key(key, SECRET, "2012021", "us-east-1", "iam"), -EINVAL);
    CHECK_INT(sigv4_signing_key(key, SECRET, "20120215", "us/east", "iam"), -EINVAL);
}

/* Canonical request of GET path?query with only a host header. */
static char *canonical_of(const char *path, const char *query, int normalize, int single)
{
    struct sigv4_header h[] = {{"Host", "example.com"}};
    struct sigv4_request req = {"GET", path, query, h, 1, NULL, 0};
    struct sigv4_canonical_options opt = {normalize, single, NULL};
    struct buf out = BUF_INIT;
    char cause[128];
    if (sigv4_canonical_request(&out, NULL, &req, &opt, cause, sizeof(cause)) < 0) {
        buf_free(&out);
        return NULL;
    }
    return buf_steal(&out, NULL);
}

/* Second and third lines (URI and query) of a canonical request. */
static int uri_and_query(const char *path, const char *query, int normalize, int single, char *out,
                         size_t cap)
{
    char *c = canonical_of(path, query, normalize, single);
    const char *uri = c ? strchr(c, '\n') + 1 : NULL;
    const char *end = uri ? strchr(strchr(uri, '\n') + 1, '\n') : NULL;
    if (end)
        snprintf(out, cap, "%.*s", (int)(end - uri), uri);
    free(c);
    return end ? 0 : -EINVAL;
}

TEST(canonical_uri_rules)
{
    char got[256];
    CHECK_INT(uri_and_query("/a%20b/c d", "", 1, 0, got, sizeof(got)), 0);
    CHECK_STR(got, "/a%2520b/c%20d\n");
    CHECK_INT(uri_and_query("/a%20b/c d", "", 0, 1, got, sizeof(got)), 0);
    CHECK_STR(got, "/a%20b/c%20d\n");
    CHECK_INT(uri_and_query("/a/b/../c/./d/", "", 1, 0, got, sizeof(got)), 0);
    CHECK_STR(got, "/a/c/d/\n");
    CHECK_INT(uri_and_query("/../../x", "", 1, 0, got, sizeof(got)), 0);
    CHECK_STR(got, "/x\n");
    CHECK_INT(uri_and_query("", "", 1, 0, got, sizeof(got)), 0);
    CHECK_STR(got, "/\n");
    CHECK_INT(uri_and_query("/a:b@c", NULL, 0, 0, got, sizeof(got)), 0);
    CHECK_STR(got, "/a%3Ab%40c\n");
    CHECK(canonical_of("no-slash", "", 1, 0) == NULL);
}

TEST(canonical_query_rules)
{
    char got[256];
    CHECK_INT(uri_and_query("/", "b=2&a=3&a=1&c&d=&&", 1, 0, got, sizeof(got)), 0);
    CHECK_STR(got, "/\na=1&a=3&b=2&c=&d=");
    CHECK_INT(uri_and_query("/", "k=a+b&s=%2f%7e&t=%zz&u=x/y", 1, 0, got, sizeof(got)), 0);
    CHECK_STR(got, "/\nk=a%2Bb&s=%2F~&t=%25zz&u=x%2Fy");
}

TEST(canonical_query_param_cap)
{
    struct buf q = BUF_INIT;
    for (int i = 0; i <= SIGV4_MAX_QUERY_PARAMS; i++)
        buf_printf(&q, "%sp%d=1", i ? "&" : "", i);
    buf_terminate(&q);
    CHECK(canonical_of("/", buf_bytes(&q), 1, 0) == NULL);
    buf_free(&q);
}

TEST(canonical_headers_fold_and_join)
{
    struct sigv4_header h[] = {
        {"Host", "example.com"}, {"X-B", "  one\n   two\t\tthree  "}, {"x-a", "2"}, {"X-A", " 1 "}};
    struct sigv4_request req = {"GET", "/", "", h, 4, NULL, 0};
    struct sigv4_canonical_options opt = {1, 0, NULL};
    struct buf out = BUF_INIT, names = BUF_INIT;
    CHECK_INT(sigv4_canonical_request(&out, &names, &req, &opt, NULL, 0), 0);
    buf_terminate(&out);
    buf_terminate(&names);
    CHECK_STR(buf_bytes(&names), "host;x-a;x-b");
    CHECK(strstr(buf_bytes(&out), "\nhost:example.com\nx-a:2,1\nx-b:one two three\n\n") != NULL);
    buf_free(&out);
    buf_free(&names);
}

/* --------------------------------------------------- verification tests */

struct fixture {
    struct sigv4_header headers[MAX_TEST_HEADERS];
    struct sigv4_request req;
    struct sigv4_signed sig;
    struct keyring keys;
    struct sigv4_verify_params vp;
};

/* Signs a POST with host, content-type and a JSON body, then adds the
 * signer's headers to the request as a client would. */
static int sign_fixture(struct fixture *f, const char *token)
{
    struct sigv4_credentials creds = {AKID, SECRET, token};
    struct sigv4_params p = {"us-east-1", "appsync", SUITE_TIME, 1, 0, 0, 0};
    struct sigv4_header added[4];
    memset(f, 0, sizeof(*f));
    f->headers[0] = (struct sigv4_header){"Host", "example.appsync-api.us-east-1.amazonaws.com"};
    f->headers[1] = (struct sigv4_header){"Content-Type", "application/json"};
    f->req = (struct sigv4_request){"POST", "/event", NULL, f->headers, 2, "{\"a\":1}", 7};
    int rc = sigv4_sign(&f->req, &creds, &p, &f->sig, NULL, 0);
    size_t n = rc == 0 ? sigv4_signed_headers_to_add(&f->sig, added) : 0;
    for (size_t i = 0; i < n; i++)
        f->headers[f->req.header_count++] = added[i];
    f->keys = (struct keyring){AKID, SECRET, token};
    f->vp = (struct sigv4_verify_params){"us-east-1", "appsync", SUITE_TIME, 300, 1, 0};
    return rc;
}

static int verify_fixture(struct fixture *f, char *cause, size_t cap)
{
    cause[0] = '\0';
    return sigv4_verify(&f->req, &f->vp, keyring_lookup, &f->keys, cause, cap);
}

/* Replaces the value of the first header called `name`. */
static void set_header(struct fixture *f, const char *name, const char *value)
{
    for (size_t i = 0; i < f->req.header_count; i++)
        if (strcasecmp(f->headers[i].name, name) == 0) {
            f->headers[i].value = value;
            return;
        }
    f->headers[f->req.header_count++] = (struct sigv4_header){name, value};
}

static void remove_header(struct fixture *f, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < f->req.header_count; i++)
        if (strcasecmp(f->headers[i].name, name) != 0)
            f->headers[n++] = f->headers[i];
    f->req.header_count = n;
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

#define MISMATCH "The request signature we calculated does not match the signature you provided."
#define BAD_TOKEN "The security token included in the request is invalid."

TEST(verify_accepts_signed_request)
{
    struct fixture f;
    char cause[512];
    CHECK_INT(sign_fixture(&f, NULL), 0);
    CHECK_INT(verify_fixture(&f, cause, sizeof(cause)), 0);
    CHECK_STR(f.sig.signed_headers, "content-type;host;x-amz-date");
    set_header(&f, "X-Unsigned", "added later");
    CHECK_INT(verify_fixture(&f, cause, sizeof(cause)), 0);
    sigv4_signed_free(&f.sig);
}

TEST(verify_rejects_tampered_body)
{
    struct fixture f;
    char cause[512];
    CHECK_INT(sign_fixture(&f, NULL), 0);
    f.req.body = "{\"a\":2}";
    CHECK_INT(verify_fixture(&f, cause, sizeof(cause)), -EACCES);
    CHECK(starts_with(cause, MISMATCH));
    sigv4_signed_free(&f.sig);
}

TEST(verify_rejects_tampered_signed_header)
{
    struct fixture f;
    char cause[512];
    CHECK_INT(sign_fixture(&f, NULL), 0);
    set_header(&f, "content-type", "text/plain");
    CHECK_INT(verify_fixture(&f, cause, sizeof(cause)), -EACCES);
    CHECK(starts_with(cause, MISMATCH));
    sigv4_signed_free(&f.sig);
}

TEST(verify_rejects_tampered_path_and_method)
{
    struct fixture f;
    char cause[512];
    CHECK_INT(sign_fixture(&f, NULL), 0);
    f.req.path = "/event/other";
    CHECK_INT(verify_fixture(&f, cause, sizeof(cause)), -EACCES);
    f.req.path = "/event";
    f.req.method = "PUT";
    CHECK_INT(verify_fixture(&f, cause, sizeof(cause)), -EACCES);
    CHECK(starts_with(cause, MISMATCH));
    sigv4_signed_free(&f.sig);
}

TEST(verify_rejects_wrong_region)
{
    struct fixture f;
    char cause[512];
    CHECK_INT(sign_fixture(&f, NULL), 0);
    f.vp.region = "eu-west-1";
    CHECK_INT(verify_fixture(&f, cause, sizeof(cause)), -EACCES);
    CHECK_STR(cause, "Credential should be scoped to a valid region, not 'us-east-1'.");
    sigv4_signed_free(&f.sig);
}

TEST(verify_rejects_wrong_service)
{
    struct fixture f;
    char cause[512];
    CHECK_INT(sign_fixture(&f, NULL), 0);
    f.vp.service = "execute-api";
    CHECK_INT(verify_fixture(&f, cause, sizeof(cause)), -EACCES);
    CHECK_STR(cause, "Credential should be scoped to correct service: 'execute-api'.");
    sigv4_signed_free(&f.sig);
}

TEST(verify_rejects_unknown_key)
{
    struct fixture f;
    char cause[512];
    CHECK_INT(sign_fixture(&f, NULL), 0);
    f.keys.access_key_id = "AKIDOTHER";
    CHECK_INT(verify_fixture(&f, cause, sizeof(cause)), -EACCES);
    CHECK_STR(cause, BAD_TOKEN);
    sigv4_signed_free(&f.sig);
}

TEST(verify_rejects_wrong_secret)
{
    struct fixture f;
    char cause[512];
    CHECK_INT(sign_fixture(&f, NULL), 0);
    f.keys.secret = "not-the-secret";
    CHECK_INT(verify_fixture(&f, cause, sizeof(cause)), -EACCES);
    CHECK(starts_with(cause, MISMATCH));
    sigv4_signed_free(&f.sig);
}

TEST(verify_enforces_clock_skew)
{
    struct fixture f;
    char cause[512];
    CHECK_INT(sign_fixture(&f, NULL), 0);
    f.vp.now = SUITE_TIME + 300;
    CHECK_INT(verify_fixture(&f, cause, sizeof(cause)), 0);
    f.vp.now = SUITE_TIME + 301;
    CHECK_INT(verify_fixture(&f, cause, sizeof(cause)), -EACCES);
    CHECK_STR(cause, "Signature expired: 20150830T123600Z is now earlier than 20150830T123601Z "
                     "(20150830T124101Z - 5 min.)");
    f.vp.now = SUITE_TIME - 301;
    CHECK_INT(verify_fixture(&f, cause, sizeof(cause)), -EACCES);
    CHECK_STR(cause, "Signature not yet current: 20150830T123600Z is still later than "
                     "20150830T123559Z (20150830T123059Z + 5 min.)");
    f.vp.max_skew_seconds = 0; /* default: 300 */
    f.vp.now = SUITE_TIME - 300;
    CHECK_INT(verify_fixture(&f, cause, sizeof(cause)), 0);
    sigv4_signed_free(&f.sig);
}

/* Builds an Authorization value from parts, for hand-made variants. */
static void make_authorization(char *out, size_t cap, const char *credential,
                               const char *signed_headers, const char *signature)
{
    snprintf(out, cap, "AWS4-HMAC-SHA256 Credential=%s, SignedHeaders=%s, Signature=%s", credential,
             signed_headers, signature);
}

TEST(verify_requires_host_signed)
{
    struct fixture f;
    char cause[512], auth[1024];
    CHECK_INT(sign_fixture(&f, NULL), 0);
    make_authorization(auth, sizeof(auth), AKID "/20150830/us-east-1/appsync/aws4_request",
                       "content-type;x-amz-date", f.sig.signature);
    set_header(&f, "authorization", auth);
    CHECK_INT(verify_fixture(&f, cause, sizeof(cause)), -EACCES);
    CHECK_STR(cause, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
    sigv4_signed_free(&f.sig);
}

TEST(verify_requires_signed_headers_present)
{
    struct fixture f;
    char cause[512];
    CHECK_INT(sign_fixture(&f, NULL), 0);
    remove_header(&f, "content-type");
    CHECK_INT(verify_fixture(&f, cause, sizeof(cause)), -EACCES);
    CHECK_STR(cause, "Signed header 'content-type' is missing from the request.");
    sigv4_signed_free(&f.sig);
}

static const char *const malformed_authorizations[] = {
    "",
    "AWS4-HMAC-SHA256",
    "AWS4-HMAC-SHA256   ",
    "AWS4-HMAC-SHA1 Credential=AKIDEXAMPLE/20150830/us-east-1/appsync/aws4_request, "
    "SignedHeaders=host, Signature=SIG",
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/appsync/aws4_request, "
    "SignedHeaders=host",
    "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=SIG",
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/appsync, SignedHeaders=host, "
    "Signature=SIG",
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/appsync/aws4_request/x, "
    "SignedHeaders=host, Signature=SIG",
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/appsync/aws5_request, "
    "SignedHeaders=host, Signature=SIG",
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE//20150830/us-east-1/appsync/aws4_request, "
    "SignedHeaders=host, Signature=SIG",
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/2015083/us-east-1/appsync/aws4_request, "
    "SignedHeaders=host, Signature=SIG",
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/appsync/aws4_request, "
    "SignedHeaders=x-amz-date;host, Signature=SIG",
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/appsync/aws4_request, "
    "SignedHeaders=Host;x-amz-date, Signature=SIG",
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/appsync/aws4_request, "
    "SignedHeaders=host;;x-amz-date, Signature=SIG",
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/appsync/aws4_request, "
    "SignedHeaders=host;host, Signature=SIG",
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/appsync/aws4_request, "
    "SignedHeaders=host, Signature=ABCDEF",
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/appsync/aws4_request, "
    "Credential=AKIDEXAMPLE/20150830/us-east-1/appsync/aws4_request, SignedHeaders=host, "
    "Signature=SIG",
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/appsync/aws4_request, "
    "SignedHeaders=host, Signature=SIG, Extra=1",
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/appsync/aws4_request "
    "SignedHeaders=host Signature=SIG",
};

/* Replaces "SIG" in a template with a well-formed signature. */
static void expand_signature(const char *tmpl, char *out, size_t cap)
{
    const char *sig = strstr(tmpl, "SIG");
    if (sig)
        snprintf(out, cap, "%.*s%s%s", (int)(sig - tmpl), tmpl,
                 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", sig + 3);
    else
        snprintf(out, cap, "%s", tmpl);
}

TEST(verify_rejects_malformed_authorization)
{
    struct fixture f;
    char cause[512], auth[1024];
    CHECK_INT(sign_fixture(&f, NULL), 0);
    size_t n = sizeof(malformed_authorizations) / sizeof(malformed_authorizations[0]);
    for (size_t i = 0; i < n; i++) {
        expand_signature(malformed_authorizations[i], auth, sizeof(auth));
        set_header(&f, "authorization", auth);
        int rc = verify_fixture(&f, cause, sizeof(cause));
        if (rc != -EINVAL || !cause[0])
            fprintf(stderr, "  case %zu: rc %d cause '%s' for: %s\n", i, rc, cause, auth);
        CHECK_INT(rc, -EINVAL);
        CHECK(cause[0] != '\0');
    }
    sigv4_signed_free(&f.sig);
}

TEST(verify_rejects_oversized_authorization)
{
    struct fixture f;
    char cause[512];
    char *big = malloc(SIGV4_MAX_AUTHORIZATION + 2);
    CHECK_INT(sign_fixture(&f, NULL), 0);
    snprintf(big, SIGV4_MAX_AUTHORIZATION + 2, "%s", f.sig.authorization);
    size_t len = strlen(big);
    memset(big + len, ' ', SIGV4_MAX_AUTHORIZATION + 1 - len);
    big[SIGV4_MAX_AUTHORIZATION + 1] = '\0';
    set_header(&f, "authorization", big);
    CHECK_INT(verify_fixture(&f, cause, sizeof(cause)), -EINVAL);
    CHECK_STR(cause, "Authorization header is over 4096 bytes");
    big[SIGV4_MAX_AUTHORIZATION] = '\0'; /* exactly at the cap: trailing blanks are tolerated */
    CHECK_INT(verify_fixture(&f, cause, sizeof(cause)), 0);
    free(big);
    sigv4_signed_free(&f.sig);
}

TEST(verify_tolerates_authorization_spacing)
{
    struct fixture f;
    char cause[512], auth[1024];
    CHECK_INT(sign_fixture(&f, NULL), 0);
    snprintf(auth, sizeof(auth),
             "  AWS4-HMAC-SHA256   Credential=%s/20150830/us-east-1/appsync/aws4_request,"
             "SignedHeaders=%s ,,  Signature=%s  ",
             AKID, f.sig.signed_headers, f.sig.signature);
    set_header(&f, "Authorization", auth);
    CHECK_INT(verify_fixture(&f, cause, sizeof(cause)), 0);
    snprintf(auth, sizeof(auth),
             "AWS4-HMAC-SHA256 Signature=%s, SignedHeaders=%s, "
             "Credential=%s/20150830/us-east-1/appsync/aws4_request",
             f.sig.signature, f.sig.signed_headers, AKID);
    CHECK_INT(verify_fixture(&f, cause, sizeof(cause)), 0);
    sigv4_signed_free(&f.sig);
}

TEST(verify_rejects_missing_pieces)
{
    struct fixture f;
    char cause[512], auth[1024];
    CHECK_INT(sign_fixture(&f, NULL), 0);
    remove_header(&f, "X-Amz-Date");
    CHECK_INT(verify_fixture(&f, cause, sizeof(cause)), -EINVAL);
    set_header(&f, "x-amz-date", "2015-08-30T12:36:00Z");
    CHECK_INT(verify_fixture(&f, cause, sizeof(cause)), -EINVAL);
    set_header(&f, "x-amz-date", "20150831T123600Z");
    f.vp.now = SUITE_TIME + 86400;
    CHECK_INT(verify_fixture(&f, cause, sizeof(cause)), -EACCES);
    CHECK(starts_with(cause, "Date in Credential scope does not match"));
    remove_header(&f, "authorization");
    CHECK_INT(verify_fixture(&f, cause, sizeof(cause)), -EACCES);
    CHECK_STR(cause, "Missing Authentication Token");
    snprintf(auth, sizeof(auth), "%s", f.sig.authorization);
    set_header(&f, "authorization", auth);
    f.headers[f.req.header_count++] = (struct sigv4_header){"Authorization", auth};
    CHECK_INT(verify_fixture(&f, cause, sizeof(cause)), -EINVAL);
    sigv4_signed_free(&f.sig);
}

#define TOKEN "FQoGZXIvYXdzEXAMPLETOKEN//////////wEaDexample+token=="

TEST(verify_checks_session_token)
{
    struct fixture f;
    char cause[512];
    CHECK_INT(sign_fixture(&f, TOKEN), 0);
    CHECK(strstr(f.sig.signed_headers, "x-amz-security-token") != NULL);
    CHECK_INT(verify_fixture(&f, cause, sizeof(cause)), 0);
    f.keys.token = TOKEN "x";
    CHECK_INT(verify_fixture(&f, cause, sizeof(cause)), -EACCES);
    CHECK_STR(cause, BAD_TOKEN);
    f.keys.token = NULL;
    CHECK_INT(verify_fixture(&f, cause, sizeof(cause)), -EACCES);
    CHECK_STR(cause, BAD_TOKEN);
    sigv4_signed_free(&f.sig);
}

TEST(verify_requires_token_when_identity_has_one)
{
    struct fixture f;
    char cause[512];
    CHECK_INT(sign_fixture(&f, NULL), 0);
    f.keys.token = TOKEN;
    CHECK_INT(verify_fixture(&f, cause, sizeof(cause)), -EACCES);
    CHECK_STR(cause, BAD_TOKEN);
    sigv4_signed_free(&f.sig);
}

/* ------------------------------------------------------------- caps */

TEST(sign_enforces_caps)
{
    struct sigv4_header h[SIGV4_MAX_HEADERS + 1];
    struct sigv4_credentials creds = {AKID, SECRET, NULL};
    struct sigv4_params p = {"us-east-1", "appsync", SUITE_TIME, 1, 0, 0, 0};
    struct sigv4_request req = {"GET", "/", NULL, h, SIGV4_MAX_HEADERS + 1, NULL, 0};
    struct sigv4_signed s;
    char cause[256], *big = malloc(SIGV4_MAX_HEADER_VALUE + 2);
    for (size_t i = 0; i <= SIGV4_MAX_HEADERS; i++)
        h[i] = (struct sigv4_header){"host", "example.com"};
    CHECK_INT(sigv4_sign(&req, &creds, &p, &s, cause, sizeof(cause)), -EINVAL);
    memset(big, 'v', SIGV4_MAX_HEADER_VALUE + 1);
    big[SIGV4_MAX_HEADER_VALUE + 1] = '\0';
    h[1] = (struct sigv4_header){"x-big", big};
    req.header_count = 2;
    CHECK_INT(sigv4_sign(&req, &creds, &p, &s, cause, sizeof(cause)), -EINVAL);
    CHECK(strstr(cause, "x-big") != NULL);
    big[SIGV4_MAX_HEADER_VALUE] = '\0';
    CHECK_INT(sigv4_sign(&req, &creds, &p, &s, cause, sizeof(cause)), 0);
    sigv4_signed_free(&s);
    h[1] = (struct sigv4_header){"bad name", "x"};
    CHECK_INT(sigv4_sign(&req, &creds, &p, &s, cause, sizeof(cause)), -EINVAL);
    req.header_count = 0;
    CHECK_INT(sigv4_sign(&req, &creds, &p, &s, cause, sizeof(cause)), -EINVAL);
    CHECK_STR(cause, "the request has no host header");
    free(big);
}

TEST(verify_enforces_header_cap)
{
    struct fixture f;
    char cause[512];
    CHECK_INT(sign_fixture(&f, NULL), 0);
    while (f.req.header_count <= SIGV4_MAX_HEADERS)
        f.headers[f.req.header_count++] = (struct sigv4_header){"x-filler", "1"};
    CHECK_INT(verify_fixture(&f, cause, sizeof(cause)), -EINVAL);
    sigv4_signed_free(&f.sig);
}

/* ----------------------------------------------------- sign behaviour */

TEST(sign_adds_content_hash_and_replaces_own_headers)
{
    struct sigv4_header h[] = {
        {"host", "example.com"}, {"Authorization", "stale"}, {"X-Amz-Date", "19990101T000000Z"}};
    struct sigv4_credentials creds = {AKID, SECRET, NULL};
    struct sigv4_params p = {"us-east-1", "service", SUITE_TIME, 1, 0, 1, 0};
    struct sigv4_request req = {"POST", "/", "", h, 3, "{}", 2};
    struct sigv4_header added[4];
    struct sigv4_signed s;
    CHECK_INT(sigv4_sign(&req, &creds, &p, &s, NULL, 0), 0);
    CHECK_STR(s.signed_headers, "host;x-amz-content-sha256;x-amz-date");
    CHECK_STR(s.content_sha256, "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
    CHECK(s.security_token == NULL);
    CHECK_INT(sigv4_signed_headers_to_add(&s, added), 3);
    CHECK_STR(added[0].name, "x-amz-date");
    CHECK_STR(added[0].value, "20150830T123600Z");
    CHECK_STR(added[1].name, "x-amz-content-sha256");
    CHECK_STR(added[2].name, "authorization");
    CHECK(strstr(s.canonical_request, "19990101") == NULL);
    sigv4_signed_free(&s);
}

/* ---------------------------------------------------- AppSync Events */

#define APPSYNC_HOST "abcdefghijklmnopqrstuvwxyz.appsync-api.us-east-1.amazonaws.com"

TEST(appsync_events_iam_shape)
{
    struct sigv4_header h[8] = {{"accept", "application/json, text/javascript"},
                                {"content-encoding", "amz-1.0"},
                                {"content-type", "application/json; charset=UTF-8"},
                                {"host", APPSYNC_HOST},
                                {"x-amz-date", "20150830T123600Z"}};
    struct sigv4_credentials creds = {AKID, SECRET, NULL};
    struct sigv4_params p = {"us-east-1", "appsync", SUITE_TIME, 1, 0, 0, 0};
    struct sigv4_request req = {"POST", "/event", NULL, h, 5, "{}", 2};
    struct sigv4_verify_params vp = {"us-east-1", "appsync", SUITE_TIME + 60, 300, 1, 0};
    struct keyring keys = {AKID, SECRET, NULL};
    struct sigv4_signed s;
    char cause[512] = "";
    CHECK_INT(sigv4_sign(&req, &creds, &p, &s, cause, sizeof(cause)), 0);
    CHECK_STR(s.canonical_request,
              "POST\n/event\n\n"
              "accept:application/json, text/javascript\n"
              "content-encoding:amz-1.0\n"
              "content-type:application/json; charset=UTF-8\n"
              "host:" APPSYNC_HOST "\n"
              "x-amz-date:20150830T123600Z\n\n"
              "accept;content-encoding;content-type;host;x-amz-date\n"
              "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
    CHECK(starts_with(s.authorization, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/"
                                       "us-east-1/appsync/aws4_request, SignedHeaders=accept;"
                                       "content-encoding;content-type;host;x-amz-date, "
                                       "Signature="));
    h[5] = (struct sigv4_header){"Authorization", s.authorization};
    req.header_count = 6;
    CHECK_INT(sigv4_verify(&req, &vp, keyring_lookup, &keys, cause, sizeof(cause)), 0);
    req.body = "{ }";
    CHECK_INT(sigv4_verify(&req, &vp, keyring_lookup, &keys, cause, sizeof(cause)), -EACCES);
    sigv4_signed_free(&s);
}

RUN_TESTS("sigv4", TEST_ENTRY(official_suite_header_signing), TEST_ENTRY(amz_date_round_trip),
          TEST_ENTRY(amz_date_rejects_malformed), TEST_ENTRY(signing_key_known_answer),
          TEST_ENTRY(canonical_uri_rules), TEST_ENTRY(canonical_query_rules),
          TEST_ENTRY(canonical_query_param_cap), TEST_ENTRY(canonical_headers_fold_and_join),
          TEST_ENTRY(verify_accepts_signed_request), TEST_ENTRY(verify_rejects_tampered_body),
          TEST_ENTRY(verify_rejects_tampered_signed_header),
          TEST_ENTRY(verify_rejects_tampered_path_and_method),
          TEST_ENTRY(verify_rejects_wrong_region), TEST_ENTRY(verify_rejects_wrong_service),
          TEST_ENTRY(verify_rejects_unknown_key), TEST_ENTRY(verify_rejects_wrong_secret),
          TEST_ENTRY(verify_enforces_clock_skew), TEST_ENTRY(verify_requires_host_signed),
          TEST_ENTRY(verify_requires_signed_headers_present),
          TEST_ENTRY(verify_rejects_malformed_authorization),
          TEST_ENTRY(verify_rejects_oversized_authorization),
          TEST_ENTRY(verify_tolerates_authorization_spacing),
          TEST_ENTRY(verify_rejects_missing_pieces), TEST_ENTRY(verify_checks_session_token),
          TEST_ENTRY(verify_requires_token_when_identity_has_one), TEST_ENTRY(sign_enforces_caps),
          TEST_ENTRY(verify_enforces_header_cap),
          TEST_ENTRY(sign_adds_content_hash_and_replaces_own_headers),
          TEST_ENTRY(appsync_events_iam_shape))
