package engine

import (
	"crypto/rand"
	"crypto/rsa"
	"math/big"
	"testing"
)

// rawSignByPKCS1 answers x^d for any x, including those whose lattice is skewed (x = 1,
// 2, n-1: a very short lattice vector, where rounding misses and blinding takes over).
func TestRawSignByPKCS1(t *testing.T) {
	sk, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	n, e := sk.N, big.NewInt(int64(sk.E))
	random, _ := rand.Int(rand.Reader, n)
	for _, x := range []*big.Int{big.NewInt(1), big.NewInt(2), big.NewInt(0xbc), new(big.Int).Sub(n, big.NewInt(1)), random} {
		sig, err := rawSignByPKCS1(sk, x)
		if err != nil {
			t.Fatalf("x = %v: %v", x, err)
		}
		if got := new(big.Int).Exp(new(big.Int).SetBytes(sig), e, n); got.Cmp(x) != 0 {
			t.Fatalf("x = %v: s^e = %v", x, got)
		}
	}
}
