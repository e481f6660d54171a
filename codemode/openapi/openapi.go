// Package openapi turns the operations of an OpenAPI 3 document into Code Mode tools: each
// operation is a method (its operationId, sanitised), its parameters and request body
// one input object, its success response the output; calling it sends the HTTP request
// through an http.RoundTripper that is meant to be the egress gateway, whose policy
// decides what may be reached and injects the credentials, which the model's code never
// sees.
//
//	p, _ := egress.ParsePolicy([]byte(`{"rules": [{"action": "allow", "host": "api.example.com",
//		"schemes": ["https"], "injectHeaders": {"Authorization": "Bearer {{secret:example_token}}"}}]}`))
//	g, _ := egress.New(egress.Config{Policy: p, Secrets: secrets})
//	api, err := openapi.New(openapi.Config{Name: "example", Document: doc, Transport: g})
//	res := executor.Execute(ctx, code, []codemode.Provider{api.Provider()}, codemode.Options{})
//
// The input of an operation is flat: path, query and header parameters by name, the
// request body as "body" (a JSON or form body; "requestBody" when a parameter is named
// body). Schemas are made self-contained: components/schemas they refer to are copied
// into $defs, OpenAPI 3.0's nullable and boolean exclusiveMinimum/Maximum become JSON
// Schema. Cookie parameters and bodies that are neither JSON, form nor text are not
// supported: such operations are left out and listed in API.Skipped.
package openapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/isobox/isobox/codemode"
	"github.com/isobox/isobox/egress"
	"github.com/isobox/isobox/internal/jsonv"
	"github.com/isobox/isobox/isoerr"
)

// Config describes one API.
type Config struct {
	// Name is the namespace of its tools in the sandbox (a JavaScript identifier).
	Name string
	// Document is the OpenAPI 3.0 or 3.1 document, as JSON.
	Document []byte
	// BaseURL is where requests go; "" takes the document's first server URL (which must
	// then be absolute).
	BaseURL string
	// Transport sends the requests: the egress gateway (egress.New) with the policy that
	// allows this API and injects its credentials. Required.
	Transport http.RoundTripper
	// MaxResponseBytes bounds a response body (10 MiB).
	MaxResponseBytes int64
}

// API is a document turned into tools.
type API struct {
	name, desc, base string
	tools            []codemode.Tool
	// Skipped lists the operations that could not be offered, with why.
	Skipped []string
}

// Provider returns the API's tools under its name.
func (a *API) Provider() codemode.Provider {
	return codemode.Provider{Name: a.name, Description: a.desc, Tools: append([]codemode.Tool(nil), a.tools...)}
}

// BaseURL is where the API's requests go.
func (a *API) BaseURL() string { return a.base }

var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// New reads the document and makes one tool per operation.
//
// # Errors
//
// When the document is not JSON or not OpenAPI 3, no base URL can be found, or Transport
// is nil.
func New(cfg Config) (*API, error) {
	if cfg.Transport == nil {
		return nil, errors.New("openapi: Config.Transport is required (the egress gateway that sends the requests)")
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = 10 << 20
	}
	v, err := jsonv.Parse(cfg.Document)
	if err != nil {
		return nil, fmt.Errorf("openapi %q: the document is not JSON: %v", cfg.Name, err)
	}
	doc, ok := v.(*jsonv.Object)
	if !ok || !strings.HasPrefix(doc.Str("openapi"), "3.") {
		if ok && doc.Has("swagger") {
			return nil, fmt.Errorf("openapi %q: Swagger 2.0 documents are not supported; convert it to OpenAPI 3", cfg.Name)
		}
		return nil, fmt.Errorf("openapi %q: not an OpenAPI 3 document (no \"openapi\": \"3.x\")", cfg.Name)
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	if base == "" {
		for _, s := range doc.Arr("servers") {
			if so, ok := s.(*jsonv.Object); ok && so.Str("url") != "" {
				base = strings.TrimRight(so.Str("url"), "/")
				break
			}
		}
	}
	if u, err := url.Parse(base); err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("openapi %q: no absolute base URL: set one (the document's servers give %q)", cfg.Name, base)
	}
	c := &converter{doc: doc, v31: strings.HasPrefix(doc.Str("openapi"), "3.1")}
	api := &API{name: cfg.Name, base: base}
	info := doc.Obj("info")
	api.desc = strings.TrimSpace(info.Str("title"))
	if d := strings.TrimSpace(info.Str("description")); d != "" {
		api.desc = strings.TrimSpace(api.desc + "\n\n" + d)
	}
	paths := doc.Obj("paths")
	if paths == nil {
		return api, nil
	}
	for _, path := range paths.Keys {
		item, ok := c.deref(paths.M[path]).(*jsonv.Object)
		if !ok {
			continue
		}
		for _, m := range methods {
			op := item.Obj(m)
			if op == nil {
				continue
			}
			t, err := c.operation(cfg, base, path, m, item, op)
			if err != nil {
				api.Skipped = append(api.Skipped, fmt.Sprintf("%s %s: %v", strings.ToUpper(m), path, err))
				continue
			}
			api.tools = append(api.tools, t)
		}
	}
	return api, nil
}

// param is where one input property goes in the request.
type param struct {
	in, name string // in: path, query, header
	prop     string // the input property
}

type operation struct {
	cfg      Config
	method   string
	base     string
	path     string
	params   []param
	body     string // the input property of the body, "" for none
	bodyType string // application/json, application/x-www-form-urlencoded, text/plain
	jsonOut  bool   // the document says the success response is JSON
	worker   string
}

func (c *converter) operation(cfg Config, base, path, method string, item, op *jsonv.Object) (codemode.Tool, error) {
	name := op.Str("operationId")
	if name == "" {
		name = method + "_" + strings.Trim(strings.NewReplacer("/", "_", "{", "", "}", "").Replace(path), "_")
	}
	o := &operation{cfg: cfg, method: strings.ToUpper(method), base: base, path: path, worker: "codemode:" + cfg.Name}
	props := jsonv.NewObject()
	var required []any
	c.defs, c.request = jsonv.NewObject(), true

	// Path-level parameters, overridden by the operation's own (same name and location).
	var params []*jsonv.Object
	index := map[string]int{}
	for _, list := range [][]any{item.Arr("parameters"), op.Arr("parameters")} {
		for _, p := range list {
			po, ok := c.deref(p).(*jsonv.Object)
			if !ok {
				continue
			}
			key := po.Str("in") + "\x00" + po.Str("name")
			if i, ok := index[key]; ok {
				params[i] = po
			} else {
				index[key] = len(params)
				params = append(params, po)
			}
		}
	}
	for _, po := range params {
		in, pname := po.Str("in"), po.Str("name")
		switch in {
		case "path", "query", "header":
		case "cookie":
			if r, _ := po.Get("required"); r == true {
				return codemode.Tool{}, fmt.Errorf("cookie parameter %q is not supported", pname)
			}
			continue
		default:
			continue
		}
		prop := pname
		if props.Has(prop) {
			prop = in + "_" + pname
		}
		var schema any = jsonv.NewObject()
		if s, ok := po.Get("schema"); ok {
			schema = c.schema(s, 0)
		} else if ct := po.Obj("content"); ct != nil && len(ct.Keys) > 0 {
			if mt, ok := ct.M[ct.Keys[0]].(*jsonv.Object); ok {
				if s, ok := mt.Get("schema"); ok {
					schema = c.schema(s, 0)
				}
			}
		}
		schema = withDescription(schema, po.Str("description"))
		props.Set(prop, schema)
		if r, _ := po.Get("required"); r == true || in == "path" {
			required = append(required, prop)
		}
		o.params = append(o.params, param{in: in, name: pname, prop: prop})
	}
	if rb, ok := c.deref(op.M["requestBody"]).(*jsonv.Object); ok {
		mt, schema, err := c.pickContent(rb.Obj("content"), true)
		if err != nil {
			return codemode.Tool{}, fmt.Errorf("request body: %v", err)
		}
		if mt != "" {
			o.body, o.bodyType = "body", mt
			if props.Has("body") {
				o.body = "requestBody"
			}
			props.Set(o.body, withDescription(schema, rb.Str("description")))
			if r, _ := rb.Get("required"); r == true {
				required = append(required, o.body)
			}
		}
	}
	input := jsonv.NewObject()
	input.Set("type", "object")
	input.Set("properties", props)
	if len(required) > 0 {
		input.Set("required", required)
	}
	input.Set("additionalProperties", false)
	if len(c.defs.Keys) > 0 {
		input.Set("$defs", c.defs)
	}
	inSchema, err := json.Marshal(input)
	if err != nil {
		return codemode.Tool{}, err
	}

	var outSchema json.RawMessage
	c.defs, c.request = jsonv.NewObject(), false
	out, ok, isJSON := c.success(op.Obj("responses"))
	o.jsonOut = isJSON
	if ok {
		if o, isObj := out.(*jsonv.Object); isObj && len(c.defs.Keys) > 0 {
			o = shallowCopy(o)
			o.Set("$defs", c.defs)
			out = o
		} else if len(c.defs.Keys) > 0 {
			w := jsonv.NewObject()
			w.Set("allOf", []any{out})
			w.Set("$defs", c.defs)
			out = w
		}
		if outSchema, err = json.Marshal(out); err != nil {
			return codemode.Tool{}, err
		}
	}

	desc := strings.TrimSpace(op.Str("summary"))
	if d := strings.TrimSpace(op.Str("description")); d != "" && d != desc {
		desc = strings.TrimSpace(desc + "\n\n" + d)
	}
	if dep, _ := op.Get("deprecated"); dep == true {
		desc = strings.TrimSpace("Deprecated. " + desc)
	}
	desc = strings.TrimSpace(desc + "\n\n" + o.method + " " + path)
	return codemode.Tool{Name: name, Description: desc, InputSchema: inSchema, OutputSchema: outSchema, Func: o.call}, nil
}

// withDescription gives a parameter's or body's schema the description written beside it.
func withDescription(schema any, desc string) any {
	if desc == "" {
		return schema
	}
	if o, ok := schema.(*jsonv.Object); ok {
		if o.Str("description") != "" {
			return o
		}
		o = shallowCopy(o)
		o.Set("description", desc)
		return o
	}
	o := jsonv.NewObject()
	o.Set("allOf", []any{schema})
	o.Set("description", desc)
	return o
}

func shallowCopy(o *jsonv.Object) *jsonv.Object {
	c := jsonv.NewObject()
	for _, k := range o.Keys {
		c.Set(k, o.M[k])
	}
	return c
}

// pickContent chooses the media type to send or read: JSON first, then (for requests)
// a form or text.
func (c *converter) pickContent(content *jsonv.Object, request bool) (string, any, error) {
	if content == nil || len(content.Keys) == 0 {
		return "", nil, nil
	}
	var form, text string
	for _, mt := range content.Keys {
		base, _, _ := mime.ParseMediaType(mt)
		if base == "" {
			base = mt
		}
		switch {
		case base == "application/json" || strings.HasSuffix(base, "+json") || base == "*/*" || base == "application/*":
			return "application/json", c.mediaSchema(content.M[mt]), nil
		case base == "application/x-www-form-urlencoded":
			form = mt
		case strings.HasPrefix(base, "text/"):
			text = mt
		}
	}
	switch {
	case form != "" && request:
		return "application/x-www-form-urlencoded", c.mediaSchema(content.M[form]), nil
	case text != "":
		return "text/plain", c.mediaSchema(content.M[text]), nil
	}
	if !request {
		return "", nil, nil
	}
	return "", nil, fmt.Errorf("media types %s are not supported (JSON, form or text)", strings.Join(content.Keys, ", "))
}

func (c *converter) mediaSchema(mt any) any {
	o, ok := mt.(*jsonv.Object)
	if !ok {
		return jsonv.NewObject()
	}
	s, ok := o.Get("schema")
	if !ok {
		return jsonv.NewObject()
	}
	return c.schema(s, 0)
}

// success is the schema of the operation's success response: 200, 201, ... 2XX, then
// default; null when it has no content.
func (c *converter) success(responses *jsonv.Object) (schema any, ok, isJSON bool) {
	if responses == nil {
		return nil, false, false
	}
	var pick any
	for _, code := range []string{"200", "201", "202", "203", "206", "2XX", "2xx"} {
		if r, ok := responses.Get(code); ok {
			pick = r
			break
		}
	}
	if pick == nil {
		for _, code := range responses.Keys {
			if strings.HasPrefix(code, "2") {
				pick = responses.M[code]
				break
			}
		}
	}
	if pick == nil {
		if _, ok := responses.Get("204"); ok {
			n := jsonv.NewObject()
			n.Set("type", "null")
			return n, true, false
		}
		pick, _ = responses.Get("default")
	}
	r, isObj := c.deref(pick).(*jsonv.Object)
	if !isObj {
		return nil, false, false
	}
	mt, schema, _ := c.pickContent(r.Obj("content"), false)
	if mt == "" {
		if r.Obj("content") == nil && pick != field(responses, "default") {
			n := jsonv.NewObject() // a success without content: the promise gives null
			n.Set("type", "null")
			return n, true, false
		}
		return nil, false, false
	}
	if o, isObj := schema.(*jsonv.Object); isObj && r.Str("description") != "" && o.Str("description") == "" && !o.Has("$ref") {
		schema = withDescription(o, r.Str("description"))
	}
	return schema, true, mt == "application/json"
}

// converter turns OpenAPI schemas into self-contained JSON Schema.
type converter struct {
	doc     *jsonv.Object
	v31     bool
	defs    *jsonv.Object // the component schemas the current tool refers to, converted
	request bool          // converting a request's schemas (else a response's)
}

// deref follows a $ref to another part of the document (parameters, request bodies,
// responses, path items).
func (c *converter) deref(v any) any {
	for range 16 {
		o, ok := v.(*jsonv.Object)
		if !ok {
			return v
		}
		ref := o.Str("$ref")
		if !strings.HasPrefix(ref, "#/") {
			return v
		}
		t, ok := jsonv.Pointer(c.doc, ref[1:])
		if !ok {
			return nil
		}
		v = t
	}
	return nil
}

const maxDepth = 64

// schema converts an OpenAPI schema: component refs become $defs refs (the component is
// converted once per tool), nullable and boolean exclusive bounds become JSON Schema,
// presentation-only keywords go.
func (c *converter) schema(v any, depth int) any {
	if depth > maxDepth {
		return true
	}
	switch v := v.(type) {
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = c.schema(x, depth+1)
		}
		return out
	case *jsonv.Object:
		if ref := v.Str("$ref"); ref != "" {
			if name, ok := strings.CutPrefix(ref, "#/components/schemas/"); ok && !strings.Contains(name, "/") {
				if !c.defs.Has(name) {
					c.defs.Set(name, true) // placeholder: a recursive schema refers to itself
					t, _ := jsonv.Pointer(c.doc, "/components/schemas/"+name)
					c.defs.Set(name, c.schema(t, depth+1))
				}
				out := shallowCopy(v)
				out.Set("$ref", "#/$defs/"+name)
				return out
			}
			if strings.HasPrefix(ref, "#/") {
				t, ok := jsonv.Pointer(c.doc, ref[1:])
				if !ok {
					return true
				}
				return c.schema(t, depth+1)
			}
			return true // remote: not followed
		}
		out := jsonv.NewObject()
		for _, k := range v.Keys {
			switch k {
			case "nullable", "discriminator", "xml", "externalDocs", "example":
				continue
			case "properties", "patternProperties", "$defs", "definitions", "dependentSchemas":
				if p, ok := v.M[k].(*jsonv.Object); ok {
					po := jsonv.NewObject()
					for _, pk := range p.Keys {
						po.Set(pk, c.schema(p.M[pk], depth+1))
					}
					out.Set(k, po)
					continue
				}
			case "items", "additionalProperties", "not", "contains", "propertyNames", "if", "then", "else",
				"additionalItems", "unevaluatedItems", "unevaluatedProperties", "allOf", "anyOf", "oneOf", "prefixItems":
				out.Set(k, c.schema(v.M[k], depth+1))
				continue
			case "required":
				// A required readOnly property is not required of a request, nor a
				// writeOnly one of a response.
				props := v.Obj("properties")
				skip := "writeOnly"
				if c.request {
					skip = "readOnly"
				}
				var req []any
				for _, r := range v.Arr("required") {
					n, _ := r.(string)
					if p, ok := c.deref(field(props, n)).(*jsonv.Object); ok {
						if x, _ := p.Get(skip); x == true {
							continue
						}
					}
					req = append(req, r)
				}
				if len(req) > 0 {
					out.Set(k, req)
				}
				continue
			}
			out.Set(k, v.M[k])
		}
		if !c.v31 {
			for _, b := range [][2]string{{"exclusiveMinimum", "minimum"}, {"exclusiveMaximum", "maximum"}} {
				if x, _ := out.Get(b[0]); x == true {
					if n, ok := out.Get(b[1]); ok {
						out.Set(b[0], n)
						out.Delete(b[1])
					}
				} else if x == false {
					out.Delete(b[0])
				}
			}
		}
		if n, _ := v.Get("nullable"); n == true {
			return nullable(out)
		}
		return out
	}
	return v
}

// nullable lets a schema accept null as well.
func nullable(o *jsonv.Object) any {
	switch t := o.M["type"].(type) {
	case string:
		o.Set("type", []any{t, "null"})
		if e := o.Arr("enum"); e != nil {
			o.Set("enum", append(append([]any(nil), e...), nil))
		}
		return o
	case []any:
		for _, x := range t {
			if x == "null" {
				return o
			}
		}
		o.Set("type", append(append([]any(nil), t...), "null"))
		return o
	}
	null := jsonv.NewObject()
	null.Set("type", "null")
	w := jsonv.NewObject()
	w.Set("anyOf", []any{o, null})
	return w
}

// call sends the operation's request with the arguments the code gave.
func (o *operation) call(ctx context.Context, args json.RawMessage) (json.RawMessage, error) {
	var in map[string]json.RawMessage
	if len(args) > 0 && string(args) != "null" {
		if err := json.Unmarshal(args, &in); err != nil {
			return nil, fmt.Errorf("the input must be an object")
		}
	}
	path := o.path
	q := url.Values{}
	header := http.Header{}
	for _, p := range o.params {
		raw, ok := in[p.prop]
		if !ok || string(raw) == "null" {
			if p.in == "path" {
				return nil, fmt.Errorf("missing path parameter %q", p.prop)
			}
			continue
		}
		switch p.in {
		case "path":
			path = strings.ReplaceAll(path, "{"+p.name+"}", url.PathEscape(strings.Join(flat(raw), ",")))
		case "query":
			addQuery(q, p.name, raw)
		case "header":
			header.Set(p.name, strings.Join(flat(raw), ","))
		}
	}
	u := o.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var body io.Reader
	if raw, ok := in[o.body]; ok && o.body != "" && string(raw) != "null" {
		switch o.bodyType {
		case "application/json":
			body = bytes.NewReader(raw)
		case "application/x-www-form-urlencoded":
			var m map[string]json.RawMessage
			if err := json.Unmarshal(raw, &m); err != nil {
				return nil, fmt.Errorf("the form body must be an object")
			}
			f := url.Values{}
			for k, v := range m {
				addQuery(f, k, v)
			}
			body = strings.NewReader(f.Encode())
		default:
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				s = string(raw)
			}
			body = strings.NewReader(s)
		}
		header.Set("Content-Type", o.bodyType)
	}
	req, err := http.NewRequestWithContext(egress.WithWorker(ctx, o.worker), o.method, u, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %v", o.method, path, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/json, text/*;q=0.5")
	resp, err := o.cfg.Transport.RoundTrip(req)
	if err != nil {
		if e, ok := err.(*isoerr.Error); ok {
			return nil, fmt.Errorf("%s %s: %s", o.method, path, e.Message)
		}
		return nil, fmt.Errorf("%s %s: %v", o.method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, o.cfg.MaxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the response: %v", o.method, path, err)
	}
	if int64(len(b)) > o.cfg.MaxResponseBytes {
		return nil, fmt.Errorf("%s %s: the response is larger than %d bytes", o.method, path, o.cfg.MaxResponseBytes)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		text := strings.TrimSpace(strings.ToValidUTF8(string(b), "\uFFFD"))
		if len(text) > 1000 {
			text = text[:1000] + "..."
		}
		if text != "" {
			text = ": " + text
		}
		return nil, fmt.Errorf("%s %s: HTTP %s%s", o.method, path, resp.Status, text)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return json.RawMessage("null"), nil
	}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if (ct == "application/json" || strings.HasSuffix(ct, "+json") || ct == "" || o.jsonOut) && json.Valid(b) {
		return b, nil
	}
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("%s %s: the response is binary (%s); only JSON and text are returned", o.method, path, ct)
	}
	return json.Marshal(string(b))
}

// flat is a parameter value as strings: an array's items, or the value itself.
func flat(raw json.RawMessage) []string {
	var arr []json.RawMessage
	if json.Unmarshal(raw, &arr) == nil {
		out := make([]string, 0, len(arr))
		for _, x := range arr {
			out = append(out, scalar(x))
		}
		return out
	}
	return []string{scalar(raw)}
}

func scalar(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(bytes.TrimSpace(raw))
}

// addQuery adds a query parameter the OpenAPI default way (form, explode): an array
// repeats the name, an object's properties become parameters.
func addQuery(q url.Values, name string, raw json.RawMessage) {
	var obj map[string]json.RawMessage
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) && json.Unmarshal(raw, &obj) == nil {
		for k, v := range obj {
			for _, s := range flat(v) {
				q.Add(k, s)
			}
		}
		return
	}
	for _, s := range flat(raw) {
		q.Add(name, s)
	}
}

// field is o[k], or nil.
func field(o *jsonv.Object, k string) any {
	v, _ := o.Get(k)
	return v
}
