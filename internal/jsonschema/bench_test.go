package jsonschema

import (
	"bytes"
	"testing"

	santhosh "github.com/santhosh-tekuri/jsonschema/v6"
)

// A tool's input schema as MCP servers send them: nested properties, required, enums, a
// pattern, bounds.
var benchSchema = []byte(`{"type":"object","properties":{
	"repo":{"type":"string","pattern":"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$","description":"owner/name"},
	"state":{"type":"string","enum":["open","closed","all"]},
	"labels":{"type":"array","items":{"type":"string","minLength":1},"maxItems":20,"uniqueItems":true},
	"limit":{"type":"integer","minimum":1,"maximum":100},
	"filter":{"type":"object","properties":{"author":{"type":"string"},"since":{"type":"string","format":"date-time"},
		"sort":{"type":"string","enum":["created","updated","comments"]},"direction":{"enum":["asc","desc"]}},
		"additionalProperties":false}},
	"required":["repo","state"],"additionalProperties":false}`)

var benchInput = []byte(`{"repo":"isobox/isobox","state":"open","labels":["bug","help wanted"],"limit":30,
	"filter":{"author":"octocat","since":"2026-01-02T03:04:05Z","sort":"updated","direction":"desc"}}`)

func BenchmarkValidate(b *testing.B) {
	b.Run("ours", func(b *testing.B) {
		s, err := Compile(benchSchema, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := s.Validate(benchInput); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("santhosh", func(b *testing.B) {
		s, err := santhoshCompile(benchSchema, Draft2020)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			v, err := santhosh.UnmarshalJSON(bytes.NewReader(benchInput))
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Validate(v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkValidateInvalid(b *testing.B) {
	bad := []byte(`{"repo":"not a repo","state":"merged","limit":0,"filter":{"extra":1}}`)
	b.Run("ours", func(b *testing.B) {
		s, _ := Compile(benchSchema, Options{})
		b.ReportAllocs()
		for b.Loop() {
			if s.Validate(bad) == nil {
				b.Fatal("valid")
			}
		}
	})
	b.Run("santhosh", func(b *testing.B) {
		s, _ := santhoshCompile(benchSchema, Draft2020)
		b.ReportAllocs()
		for b.Loop() {
			v, _ := santhosh.UnmarshalJSON(bytes.NewReader(bad))
			if s.Validate(v) == nil {
				b.Fatal("valid")
			}
		}
	})
}

func BenchmarkCompile(b *testing.B) {
	b.Run("ours", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Compile(benchSchema, Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("santhosh", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := santhoshCompile(benchSchema, Draft2020); err != nil {
				b.Fatal(err)
			}
		}
	})
}
