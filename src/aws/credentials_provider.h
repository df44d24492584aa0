/* A credentials provider: the chain's answer (aws/credentials.h), cached and
 * refreshed before it expires, for code that signs many requests over a
 * long time (the events client, tether dev, the bridge).
 *
 * aws_credentials_provider_get() hands out a copy of the current
 * credentials. Once they are within refresh_ahead seconds of their
 * expiration (AWS_CREDENTIALS_REFRESH_AHEAD_S, five minutes, by default) the
 * chain is resolved again on a background thread, so the caller's loop never
 * waits for a credential_process or STS; meanwhile the current credentials,
 * still valid, are returned. Only when they have already expired does get()
 * wait for the refresh (bounded by the process and HTTP timeouts). A failed
 * refresh is retried 30 seconds later at the earliest; the credentials in
 * hand are kept until they expire. Credentials without an expiration (the
 * environment, static keys) are never refreshed.
 *
 * Threads: every function may be called from any thread.
 *
 * Ownership: the caller owns the provider and frees it after everything that
 * borrows it (an events client) is gone. get() copies into the caller's
 * struct, which the caller wipes (aws_credentials_wipe) after use. Secrets
 * held by the provider are wiped when replaced and when freed. */
#ifndef TETHER_AWS_CREDENTIALS_PROVIDER_H
#define TETHER_AWS_CREDENTIALS_PROVIDER_H

#include <stddef.h>

#include "aws/credentials.h"

#define AWS_CREDENTIALS_RETRY_S 30

struct aws_credentials_provider;

/* Resolves the chain once now (blocking): -ENOENT or another -errno with
 * cause when that fails. The options are copied. */
int aws_credentials_provider_new(const struct aws_credentials_options *options,
                                 struct aws_credentials_provider **out, char *cause,
                                 size_t cause_len);
/* A provider of fixed credentials (copied), never refreshed. */
int aws_credentials_provider_new_static(const struct aws_credentials *credentials,
                                        struct aws_credentials_provider **out);
/* Waits for a refresh in progress, then frees. NULL is ignored. */
void aws_credentials_provider_free(struct aws_credentials_provider *provider);

/* Copies the current credentials into out. -EKEYEXPIRED with cause when they
 * have expired and could not be refreshed. */
int aws_credentials_provider_get(struct aws_credentials_provider *provider,
                                 struct aws_credentials *out, char *cause, size_t cause_len);

/* How long before the expiration a refresh starts (tests shorten it). */
void aws_credentials_provider_set_refresh_ahead(struct aws_credentials_provider *provider,
                                                unsigned seconds);
/* How many times the credentials were replaced by a refresh. */
unsigned aws_credentials_provider_refreshes(struct aws_credentials_provider *provider);

#endif
