package tenant_test

import (
	"fmt"
	"time"

	"github.com/isobox/isobox/store"
	"github.com/isobox/isobox/tenant"
)

func ExampleKeyring() {
	secret, hash := tenant.NewKey() // show secret once; store hash
	ring := tenant.NewKeyring()
	ring.Load([]store.Key{{ID: "key_1", Tenant: "acme", Scopes: []string{"read", "invoke"}, Hash: hash}})

	p, err := ring.Authenticate(secret, time.Now())
	fmt.Println(p.Tenant, p.Scopes, err)
	fmt.Println(p.Need(tenant.Deploy))
	fmt.Println(p.Scoped("hello"))
	// Output:
	// acme invoke,read <nil>
	// forbidden: this route needs a key with scope "deploy" (this key has "invoke,read")
	// acme~hello
}
