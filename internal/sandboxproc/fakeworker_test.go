package sandboxproc

import (
	"bufio"
	"encoding/json"
	"os"
)

// fakeHandshake is the start of the wire protocol as a scripted (hostile) worker process
// in the tests speaks it: the config frame in, "engine up" out, the assignment of its
// place in, "ready" out; then, when the configuration names rings, c writes to them and
// the reader it returns reads them, as a real worker process does. It exits the process
// with code when the supervisor does not follow the protocol.
func fakeHandshake(c *conn, r *bufio.Reader, hdr []byte, code int) *bufio.Reader {
	typ, _, payload, err := readFrame(r, hdr)
	var cfg workerConfig
	if err != nil || typ != msgConfig || json.Unmarshal(payload, &cfg) != nil {
		os.Exit(code)
	}
	_ = c.send(msgEngineUp, 0, nil)
	if typ, _, _, err := readFrame(r, hdr); err != nil || typ != msgAssign {
		os.Exit(code)
	}
	_ = c.send(msgReady, 0, nil)
	if cfg.Ring == 0 {
		return r
	}
	ring, err := openRing(cfg.Ring)
	if err != nil {
		os.Exit(code)
	}
	rw := &ringWire{Conn: ring, sock: c.rw}
	ring.SetWakeBell(c.rw)
	c.rw = rw
	go rw.watch(ring.CloseRead)
	return bufio.NewReader(ring)
}
