/* libFuzzer harness: arbitrary bytes from a client into a WS_SERVER session
 * with a 64 KiB message cap, the way the broker feeds a socket. Replies (pong,
 * close, echoes) are discarded; every message is echoed back from inside the
 * callback because the broker also answers from there. */
#include <stddef.h>
#include <stdint.h>

#include "net/ws.h"

struct fuzz_state {
    struct ws_session *session;
    size_t written;
    int closed;
};

static int discard_write(void *user, const void *data, size_t len)
{
    struct fuzz_state *st = user;
    (void)data;
    st->written += len;
    return 0;
}

static void echo_message(void *user, int is_text, const char *data, size_t len)
{
    struct fuzz_state *st = user;
    if (is_text && !st->closed)
        ws_send_text(st->session, data, len);
}

static void note_closed(void *user, uint16_t code)
{
    struct fuzz_state *st = user;
    (void)code;
    st->closed = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct ws_callbacks callbacks = {echo_message, note_closed};
    struct fuzz_state st = {0};
    st.session = ws_session_new(WS_SERVER, 64 * 1024, &callbacks, discard_write, &st);
    if (!st.session)
        return 0;
    /* Feed in two pieces so frames split across reads are exercised too; the
     * split point comes from the input length so the bytes stay untouched. */
    size_t split = size / 2;
    if (ws_session_feed(st.session, (const char *)data, split) == 0)
        ws_session_feed(st.session, (const char *)data + split, size - split);
    if (!ws_session_finished(st.session))
        ws_send_close(st.session, 1000, "done");
    ws_session_free(st.session);
    return 0;
}
