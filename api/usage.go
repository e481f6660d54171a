package api

// UsageRow is one row of GET /v1/usage: a tenant's usage in one UTC day (groupBy=day) or
// of one worker version over the range (groupBy=worker).
type UsageRow struct {
	Tenant string `json:"tenant"`
	// Day is the UTC day, YYYY-MM-DD (groupBy=day).
	Day string `json:"day,omitempty"`
	// Worker and CodeHash name the worker version (groupBy=worker). Worker "" gathers the
	// one-shot loads (/v1/run, Code Mode, snippets) and the tenant's storage.
	Worker   string `json:"worker,omitempty"`
	CodeHash string `json:"codeHash,omitempty"`
	// UniqueWorkers is what Cloudflare bills per day: with groupBy=day the distinct
	// (worker, code hash) pairs loaded that day plus the one-shot loads; with
	// groupBy=worker the days the version was loaded (its one-shot loads for Worker "").
	UniqueWorkers   int64   `json:"uniqueWorkers"`
	Invocations     int64   `json:"invocations"`
	CPUMs           float64 `json:"cpuMs"`
	WallMs          float64 `json:"wallMs"`
	EgressBytes     int64   `json:"egressBytes"`
	StorageByteDays float64 `json:"storageByteDays"`
}

// UsageReport is the answer of GET /v1/usage. From and To are UTC days, both included.
type UsageReport struct {
	From    string     `json:"from"`
	To      string     `json:"to"`
	GroupBy string     `json:"groupBy"`
	Rows    []UsageRow `json:"rows"`
}

// CostRow is a tenant's usage in one UTC day and what it costs under the price sheet,
// after the sheet's monthly allowances (taken in day order from the first of the month).
type CostRow struct {
	Tenant          string  `json:"tenant"`
	Day             string  `json:"day"`
	UniqueWorkers   int64   `json:"uniqueWorkers"`
	Invocations     int64   `json:"invocations"`
	CPUMs           float64 `json:"cpuMs"`
	EgressBytes     int64   `json:"egressBytes"`
	StorageByteDays float64 `json:"storageByteDays"`
	// The cost of each priced item, and their sum, in the sheet's currency.
	UniqueWorkersCost float64 `json:"uniqueWorkersCost"`
	InvocationsCost   float64 `json:"invocationsCost"`
	CPUCost           float64 `json:"cpuCost"`
	EgressCost        float64 `json:"egressCost"`
	StorageCost       float64 `json:"storageCost"`
	Total             float64 `json:"total"`
}

// CostReport is the answer of GET /v1/usage/cost.
type CostReport struct {
	From     string    `json:"from"`
	To       string    `json:"to"`
	Currency string    `json:"currency"`
	Source   string    `json:"source"` // where the price sheet's prices come from
	Rows     []CostRow `json:"rows"`
	Total    float64   `json:"total"`
}
