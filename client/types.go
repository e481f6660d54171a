package client

import (
	"github.com/isobox/isobox/api"
)

// The wire types the client's methods take and return, under the names this package had
// for them: aliases of package api's, so that a caller needs one import.
type (
	WorkerCode         = api.WorkerCode
	Module             = api.Module
	Limits             = api.Limits
	Outcome            = api.Outcome
	Worker             = api.Worker
	WorkerList         = api.WorkerList
	FetchRequest       = api.FetchRequest
	RunRequest         = api.RunRequest
	RunCall            = api.RunCall
	LogEntry           = api.LogEntry
	LogList            = api.LogList
	SessionOptions     = api.SessionOptions
	SessionEvalRequest = api.SessionEvalRequest
	SessionInfo        = api.SessionInfo
	SessionOutcome     = api.SessionOutcome
)

// ListOptions choose a page of GET /v1/workers.
type ListOptions struct {
	After string // list ids after this one
	Limit int    // at most this many (server default 100, at most 1000)
}
