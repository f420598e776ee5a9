package refsso

import (
	"encoding/json"
	"net/http"
	"time"
)

// oauthError is an answer in Spring Security OAuth2's error shape (RFC 6749 section 5.2).
type oauthError struct {
	status      int
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

func (e *oauthError) Error() string { return e.Code + ": " + e.Description }

// springError is Spring Boot's generic error body, which the filters in front of the token
// endpoint answer with (e.g. BasicAuthenticationFilter on a malformed header). It has no
// error_description: the gateway must fall back to message (SPEC section 2, step 7).
type springError struct {
	status  int
	message string
}

func (e *springError) Error() string { return e.message }

// The answers the seed and Spring define; descriptions are the texts the apps show or match.
var (
	errBadClient      = &oauthError{http.StatusUnauthorized, "invalid_client", "Bad client credentials"}
	errClientMismatch = &oauthError{http.StatusUnauthorized, "invalid_client", "Given client ID does not match authenticated client"}
	errNoClient       = &oauthError{http.StatusUnauthorized, "unauthorized", "Full authentication is required to access this resource"}
	errNoGrantType    = &oauthError{http.StatusBadRequest, "invalid_request", "Missing grant type"}
	errNoSuchUser     = &oauthError{http.StatusBadRequest, "invalid_grant", "4006"}
	errCaptchaNeeded  = &oauthError{http.StatusBadRequest, "invalid_grant", "2001"}
	errBadPassword    = &oauthError{http.StatusBadRequest, "access_denied", "password not match!"}
	errBadRefresh     = &oauthError{http.StatusBadRequest, "invalid_grant", "Invalid refresh token"}
	errBadForm        = &oauthError{http.StatusBadRequest, "invalid_request", "Malformed request body"}
	errTooLarge       = &oauthError{http.StatusRequestEntityTooLarge, "invalid_request", "Request body too large"}
	errUnknownToken   = &oauthError{http.StatusBadRequest, "invalid_token", "Token was not recognised"}

	errBasicDecode = &springError{http.StatusUnauthorized, "Failed to decode basic authentication token"}
	errBasicShape  = &springError{http.StatusUnauthorized, "Invalid basic authentication token"}
)

// tokenResponse is the seed's successful answer, fields in the seed's order.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope"`
}

// writeJSON writes every answer, success or not, with the headers Spring's token endpoint
// sets: tokens must never sit in a cache (RFC 6749 section 5.1).
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	// An encoding error here means the client went away; there is no one left to tell.
	_ = json.NewEncoder(w).Encode(v)
}

// writeError turns an *oauthError or *springError into its body; anything else is a bug and
// answers a bare 500 without its text.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	switch e := err.(type) {
	case *oauthError:
		writeJSON(w, e.status, e)
	case *springError:
		writeJSON(w, e.status, map[string]any{
			"timestamp": time.Now().UTC().Format("2006-01-02T15:04:05.000-07:00"),
			"status":    e.status,
			"error":     http.StatusText(e.status),
			"message":   e.message,
			"path":      r.URL.Path,
		})
	default:
		writeJSON(w, http.StatusInternalServerError, &oauthError{Code: "server_error", Description: "Internal error"})
	}
}

// methodNotAllowed answers like Spring's HttpRequestMethodNotSupportedException handler.
func methodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) {
	w.Header().Set("Allow", allow)
	writeJSON(w, http.StatusMethodNotAllowed, &oauthError{
		Code:        "method_not_allowed",
		Description: "Request method '" + r.Method + "' not supported",
	})
}
