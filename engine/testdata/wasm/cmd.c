// cmd.wasm: a WASI command worker for engine/wasmworker_test.go. What it does depends on
// the request's path (PATH_INFO): each path is one behaviour the tests rely on.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void put(const char *s) { write(1, s, strlen(s)); }

// deep exhausts the wasm call stack: its frames hold nothing in linear memory.
__attribute__((noinline)) static unsigned deep(unsigned n) {
	if (n == 0xffffffffu) return 0;
	return deep(n + 1) * 3u + n;
}

// shadow exhausts the C stack in linear memory (it runs off the start of memory).
__attribute__((noinline)) static int shadow(volatile int n) {
	volatile char pad[256];
	pad[0] = (char)n;
	return shadow(n + 1) + pad[0];
}

int main(void) {
	const char *path = getenv("PATH_INFO");
	if (!path) path = "/";
	if (strcmp(path, "/status") == 0) {
		const char *m = getenv("REQUEST_METHOD"), *n = getenv("HTTP_X_NAME");
		put("Status: 201 Created\r\nContent-Type: text/plain\r\nX-Method: ");
		put(m ? m : "?");
		put("\r\n\r\nhello ");
		put(n ? n : "nobody");
		return 0;
	}
	if (strcmp(path, "/exit") == 0) {
		put("partial");
		write(2, "something went wrong\n", 21);
		return 3;
	}
	if (strcmp(path, "/loop") == 0) {
		for (volatile unsigned i = 0;; i++) {
		}
	}
	if (strcmp(path, "/grow") == 0) {
		for (;;) {
			if (__builtin_wasm_memory_grow(0, 256) == (size_t)-1) abort();
		}
	}
	if (strcmp(path, "/recurse") == 0) return (int)deep(0);
	if (strcmp(path, "/shadow") == 0) return shadow(0);
	if (strcmp(path, "/open") == 0) {
		int fd = open("/etc/passwd", O_RDONLY);
		if (fd < 0) {
			put("open failed");
			return 0;
		}
		char buf[64];
		ssize_t n = read(fd, buf, sizeof buf);
		if (n > 0) write(1, buf, n);
		return 0;
	}
	if (strcmp(path, "/env") == 0) {
		extern char **environ;
		for (char **e = environ; *e; e++) {
			put(*e);
			put("\n");
		}
		return 0;
	}
	if (strcmp(path, "/remember") == 0) {
		// A zero-initialised static: what an earlier request wrote must not be here.
		static char kept[64];
		write(1, kept[0] ? kept : "(nothing)", kept[0] ? strlen(kept) : 9);
		read(0, kept, sizeof kept - 1);
		return 0;
	}
	if (strcmp(path, "/big") == 0) {
		static char buf[65536];
		memset(buf, 'x', sizeof buf);
		for (int i = 0; i < 64; i++) write(1, buf, sizeof buf);
		return 0;
	}
	// Anything else: echo the request body.
	char buf[4096];
	ssize_t n;
	while ((n = read(0, buf, sizeof buf)) > 0) write(1, buf, n);
	return 0;
}
