package admin

import (
	"net/http"

	"github.com/ssogate/ssogate/docs"
)

// openapi serves the API document (SPEC section 11), embedded in the binary so that it always
// describes the version that serves it.
func (s *server) openapi(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(docs.OpenAPI)
}

// recordingMux registers routes on the server's mux and remembers their patterns, so that a
// test can check that every route is in the API document.
type recordingMux struct {
	mux      *http.ServeMux
	patterns *[]string
}

func (m recordingMux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	*m.patterns = append(*m.patterns, pattern)
	m.mux.HandleFunc(pattern, h)
}

func (m recordingMux) Handle(pattern string, h http.Handler) {
	*m.patterns = append(*m.patterns, pattern)
	m.mux.Handle(pattern, h)
}

// Routes returns the patterns ("METHOD /path") an admin handler made by New serves; nil for
// any other handler.
func Routes(h http.Handler) []string {
	s, ok := h.(*server)
	if !ok {
		return nil
	}
	return append([]string(nil), s.patterns...)
}
