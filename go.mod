module github.com/isobox/isobox

go 1.26

require (
	github.com/bits-and-blooms/bitset v1.20.0 // indirect
	github.com/nlnwa/whatwg-url v0.6.2 // indirect
	github.com/tetratelabs/wazero v1.12.0 // indirect
	golang.org/x/net v0.34.0 // indirect
	golang.org/x/sys v0.44.0 // indirect
	golang.org/x/text v0.21.0 // indirect
)
