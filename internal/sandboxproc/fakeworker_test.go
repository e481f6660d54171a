package sandboxproc

import (
	"bufio"
	"os"
)

// fakeHandshake is the start of the wire protocol as a scripted (hostile) worker process
// in the tests speaks it: the config frame in, "engine up" out, the assignment of its
// place in, "ready" out. It exits the process with code when the supervisor does not
// follow the protocol.
func fakeHandshake(c *conn, r *bufio.Reader, hdr []byte, code int) {
	if _, _, _, err := readFrame(r, hdr); err != nil { // msgConfig
		os.Exit(code)
	}
	_ = c.send(msgEngineUp, 0, nil)
	if typ, _, _, err := readFrame(r, hdr); err != nil || typ != msgAssign {
		os.Exit(code)
	}
	_ = c.send(msgReady, 0, nil)
}
