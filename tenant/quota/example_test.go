package quota_test

import (
	"errors"
	"fmt"

	"github.com/isobox/isobox/isoerr"
	"github.com/isobox/isobox/tenant/quota"
)

func Example() {
	q := quota.New(quota.Limits{Concurrent: 1})
	release, err := q.Acquire("acme") // before the invocation runs
	if err != nil {
		panic(err)
	}
	_, err = q.Acquire("acme") // a second one at the same time
	var e *isoerr.Error
	if errors.As(err, &e) {
		fmt.Println(e.Code, e.Quota, e.RetryAfterSeconds)
	}
	release() // when it has finished
	_, err = q.Acquire("acme")
	fmt.Println(err)
	// Output:
	// quota_exceeded concurrent_invocations 1
	// <nil>
}
