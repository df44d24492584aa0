/* credential_process: an external program that prints credentials as JSON
 * (the AWS CLI's "sourcing credentials with an external process"):
 *   {"Version": 1, "AccessKeyId": "...", "SecretAccessKey": "...",
 *    "SessionToken": "...", "Expiration": "2024-05-01T12:00:00Z"}
 * SessionToken and Expiration are optional; without Expiration the
 * credentials never expire. The command line runs through /bin/sh -c (as in
 * the Go and JavaScript SDKs), with stdin from /dev/null; its standard output
 * (at most AWS_PROCESS_MAX_OUTPUT bytes) is the answer and its standard error
 * is kept for the error message. A non-zero exit, a timeout or bad JSON fails.
 * Blocking; safe on any thread. */
#ifndef TETHER_AWS_CREDENTIALS_PROCESS_H
#define TETHER_AWS_CREDENTIALS_PROCESS_H

#include <stddef.h>

#include "aws/credentials.h"

#define AWS_PROCESS_MAX_OUTPUT (64 * 1024)
#define AWS_PROCESS_MAX_STDERR 2048

/* Runs command (timeout_ms 0: 60 s) and parses its output into out. */
int aws_credentials_from_process(const char *command, unsigned timeout_ms,
                                 struct aws_credentials *out, char *cause, size_t cause_len);

/* Parses the JSON a credential_process printed. */
int aws_credentials_parse_process_output(const char *json, size_t len, struct aws_credentials *out,
                                         char *cause, size_t cause_len);

#endif
