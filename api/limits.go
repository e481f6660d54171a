package api

// Limits bound the invocations of a worker, a snippet or a session eval, as the
// `limits` of Dynamic Workers' WorkerCode. Times are whole milliseconds and memory whole
// MiB; a zero field means the server's default. Bounds: cpuMs at most 30,000 (default
// 50), wallMs at most 900,000 (default 30,000), memoryMb 16 to 4,096 (default 128),
// subRequests at most 10,000 (default 50). Out-of-range values are an invalid_request
// error that names the field.
type Limits struct {
	CPUMs    int `json:"cpuMs,omitempty"`
	WallMs   int `json:"wallMs,omitempty"`
	MemoryMB int `json:"memoryMb,omitempty"`
	// SubRequests bounds the fetch() calls of one invocation (spelled as in Dynamic
	// Workers).
	SubRequests int `json:"subRequests,omitempty"`
}
