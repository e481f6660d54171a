package jsvalue_test

import (
	"fmt"

	"github.com/isobox/isobox/internal/jsvalue"
)

func ExampleRender() {
	s, err := jsvalue.Render([]byte(`{"m":{"$type":"Map","entries":[[1,{"$type":"BigInt","value":"2"}]]},"u":{"$type":"undefined"},"ok":true}`))
	if err != nil {
		panic(err)
	}
	fmt.Println(s)
	// Output:
	// {"m":Map(1) {1 => 2n},"u":undefined,"ok":true}
}
