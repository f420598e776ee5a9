package apidoc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	verrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/paths"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"github.com/ssogate/ssogate/docs"
)

// Checker validates exchanges against the document. It is safe for concurrent use.
type Checker struct {
	mu    sync.Mutex // the validator's caches are not documented as safe for concurrent use
	v     validator.Validator
	model *v3.Document
}

var (
	once       sync.Once
	shared     *Checker
	sharedErrs error
)

// Default returns the Checker of docs/openapi.yaml, built once per test binary (building it
// compiles every schema of the document).
func Default() (*Checker, error) {
	once.Do(func() { shared, sharedErrs = New(docs.OpenAPI) })
	return shared, sharedErrs
}

// New parses an OpenAPI 3.1 document and checks that the document itself is valid.
func New(spec []byte) (*Checker, error) {
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		return nil, fmt.Errorf("apidoc: parse: %w", err)
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		return nil, fmt.Errorf("apidoc: build model: %w", err)
	}
	v, errs := validator.NewValidator(doc, config.WithURLEncodedBodyValidation())
	if len(errs) > 0 {
		return nil, fmt.Errorf("apidoc: validator: %w", errors.Join(errs...))
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		return nil, fmt.Errorf("apidoc: the document is not valid OpenAPI: %s", describe(verrs))
	}
	return &Checker{v: v, model: &model.Model}, nil
}

// Operation is one method and path template of the document.
type Operation struct {
	Method string // upper case
	Path   string // as written in the document, e.g. /admin/clusters/{code}
}

func (o Operation) String() string { return o.Method + " " + o.Path }

// Operations lists every operation of the document, sorted.
func (c *Checker) Operations() []Operation {
	var out []Operation
	for path, item := range c.model.Paths.PathItems.FromOldest() {
		for method := range item.GetOperations().FromOldest() {
			out = append(out, Operation{Method: strings.ToUpper(method), Path: path})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// Exchange is one request and its answer, bodies read.
type Exchange struct {
	Request *http.Request
	// RequestBody is what was sent; RequestBodyComplete is false when it was larger than the
	// capture limit (the request body is then not validated).
	RequestBody         []byte
	RequestBodyComplete bool
	Response            *http.Response
	ResponseBody        []byte
}

// Check validates one exchange:
//   - the answer always matches the document (status, headers, body);
//   - a request the server accepted (2xx, and not a code 1002 of the token endpoint) matches
//     the document too: a request that the document calls invalid must not be served;
//   - an answer to a route missing from the document is only acceptable as a refusal
//     (401, 403, 404, 405) in JSON — anything else is a route the document lacks.
func (c *Checker) Check(x Exchange) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	resp := cloneResponse(x.Response, x.ResponseBody)
	if ok, errs := c.v.ValidateHttpResponse(requestFor(x, false), resp); !ok {
		if missingRoute(errs) && strings.HasPrefix(x.Request.URL.Path, "/ui/") {
			return nil // the console's pages and assets: HTML for people, not API (GET /ui/ is documented)
		}
		if missingRoute(errs) || refusedOnThisListener(x, errs) {
			return c.checkRefusal(x)
		}
		return fmt.Errorf("answer %d to %s %s does not match docs/openapi.yaml: %s (body %.300q)",
			x.Response.StatusCode, x.Request.Method, x.Request.URL.Path, describe(errs), x.ResponseBody)
	}
	if !accepted(x) || !x.RequestBodyComplete {
		return nil
	}
	req := requestFor(x, true)
	c.assumeContentType(req)
	if ok, errs := c.v.ValidateHttpRequest(req); !ok {
		return fmt.Errorf("request %s %s was served (%d) but does not match docs/openapi.yaml: %s",
			x.Request.Method, x.Request.URL.Path, x.Response.StatusCode, describe(errs))
	}
	return nil
}

func (c *Checker) checkRefusal(x Exchange) error {
	switch x.Response.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusMethodNotAllowed:
	default:
		return fmt.Errorf("%s %s answered %d but the route is not in docs/openapi.yaml",
			x.Request.Method, x.Request.URL.Path, x.Response.StatusCode)
	}
	var obj map[string]any
	if err := json.Unmarshal(x.ResponseBody, &obj); err != nil {
		return fmt.Errorf("%s %s (not in the document) refused with %d but not in JSON: %.200q",
			x.Request.Method, x.Request.URL.Path, x.Response.StatusCode, x.ResponseBody)
	}
	_, hasError := obj["error"]
	_, hasCode := obj["code"]
	if !hasError && !hasCode {
		return fmt.Errorf("%s %s (not in the document) refused with %d without error or code: %.200q",
			x.Request.Method, x.Request.URL.Path, x.Response.StatusCode, x.ResponseBody)
	}
	return nil
}

// accepted says whether the server served the request rather than refusing it as bad input.
// The token endpoint answers bad input with HTTP 200 and code 1002, so its code decides.
func accepted(x Exchange) bool {
	if x.Response.StatusCode < 200 || x.Response.StatusCode > 299 {
		return false
	}
	var head struct {
		Code *int `json:"code"`
	}
	if strings.HasPrefix(x.Response.Header.Get("Content-Type"), "application/json") &&
		json.Unmarshal(x.ResponseBody, &head) == nil && head.Code != nil {
		return *head.Code != 1002
	}
	return true
}

// refusedOnThisListener recognises a 404 for a documented path sent to the other listener
// (e.g. /admin/clusters on the public one): the document's paths are matched without their
// server, and each listener answers paths it does not serve with its own JSON 404.
func refusedOnThisListener(x Exchange, errs []*verrors.ValidationError) bool {
	if x.Response.StatusCode != http.StatusNotFound {
		return false
	}
	for _, e := range errs {
		if !strings.Contains(e.Message, "response code '404' does not exist") {
			return false
		}
	}
	return true
}

func missingRoute(errs []*verrors.ValidationError) bool {
	for _, e := range errs {
		if e.IsPathMissingError() || e.IsOperationMissingError() {
			return true
		}
	}
	return false
}

// assumeContentType gives a request body sent without Content-Type the one media type its
// operation declares: the admin API reads the body by the route, not by the header (a client
// such as curl --data-binary may send no type or a wrong one), and the document says so.
func (c *Checker) assumeContentType(r *http.Request) {
	if r.Header.Get("Content-Type") != "" {
		return
	}
	item, _, _ := paths.FindPath(r, c.model, nil)
	if item == nil {
		return
	}
	op := item.GetOperations().GetOrZero(strings.ToLower(r.Method))
	if op == nil || op.RequestBody == nil || op.RequestBody.Content.Len() != 1 {
		return
	}
	for mediaType := range op.RequestBody.Content.KeysFromOldest() {
		r.Header.Set("Content-Type", mediaType)
	}
}

// requestFor returns a copy of the exchange's request whose body can be read by the validator.
func requestFor(x Exchange, withBody bool) *http.Request {
	r := x.Request.Clone(x.Request.Context())
	r.Body = http.NoBody
	if withBody && len(x.RequestBody) > 0 {
		r.Body = io.NopCloser(bytes.NewReader(x.RequestBody))
		r.ContentLength = int64(len(x.RequestBody))
	}
	return r
}

func cloneResponse(resp *http.Response, body []byte) *http.Response {
	c := *resp
	c.Body = io.NopCloser(bytes.NewReader(body))
	return &c
}

func describe(errs []*verrors.ValidationError) string {
	var b strings.Builder
	for i, e := range errs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Message)
		if e.Reason != "" {
			b.WriteString(": ")
			b.WriteString(e.Reason)
		}
		for _, s := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, " [%s: %s]", s.FieldPath, s.Reason)
		}
	}
	return b.String()
}
