package tokenapi

import (
	"strconv"
	"unicode/utf8"

	"github.com/ssogate/ssogate/internal/directory"
)

// Answer codes of the original API document (seed): the apps read code, not the HTTP status.
const (
	CodeOK            = 200
	CodeChooseCluster = 1000
	CodeBadInvite     = 1001
	CodeError         = 1002
	CodeUnknownUser   = 1004
)

// OAuth2 error words the gateway itself answers with (RFC 6749 section 5.2 and SPEC section 2).
const (
	errInvalidClient   = "invalid_client"
	errInvalidRequest  = "invalid_request"
	errInvalidGrant    = "invalid_grant"
	errTooManyRequests = "too_many_requests"
	errUnavailable     = "temporarily_unavailable"
	errNotFound        = "not_found"
)

// Messages shown by the apps (seed texts where the seed has one).
const (
	msgChooseCluster = "用户存在多个邀请码"
	msgBadInvite     = "邀请码错误"
	msgUnknownUser   = "用户不存在"
	msgSSOError      = "登陆sso返回错误信息"
)

// gatewayError is a 1002 answer made by the gateway itself.
type gatewayError struct {
	status      int    // HTTP status: 200 except for 404, 405, 413, 431
	word        string // OAuth2 error word
	message     string // short Chinese message
	description string // human-readable Chinese description, shown to the user
	retryAfter  int    // seconds, for too_many_requests
}

var (
	errMissingClient    = &gatewayError{word: errInvalidClient, message: "客户端认证失败", description: "缺少客户端凭证(Authorization 或 client_id)"}
	errMalformedBasic   = &gatewayError{word: errInvalidClient, message: "客户端认证失败", description: "Authorization 请求头格式错误"}
	errMissingGrant     = &gatewayError{word: errInvalidRequest, message: "请求参数错误", description: "缺少 grant_type 参数"}
	errEmptyUsername    = &gatewayError{word: errInvalidRequest, message: "用户名不能为空", description: "用户名不能为空"}
	errEmptyPassword    = &gatewayError{word: errInvalidRequest, message: "密码不能为空", description: "密码不能为空"}
	errBadUsername      = &gatewayError{word: errInvalidRequest, message: "请求参数错误", description: "用户名格式不正确"}
	errRepeatedParam    = &gatewayError{word: errInvalidRequest, message: "请求参数错误", description: "请求参数重复"}
	errTooManyParams    = &gatewayError{word: errInvalidRequest, message: "请求参数错误", description: "请求参数过多"}
	errBadEncoding      = &gatewayError{word: errInvalidRequest, message: "请求参数错误", description: "请求参数不是有效的 UTF-8 文本"}
	errBadContentType   = &gatewayError{word: errInvalidRequest, message: "请求参数错误", description: "请求体必须是 application/x-www-form-urlencoded 表单"}
	errMissingRefresh   = &gatewayError{word: errInvalidRequest, message: "请求参数错误", description: "缺少 refresh_token 参数"}
	errNeedClusterCode  = &gatewayError{word: errInvalidRequest, message: "请求参数错误", description: "该登录方式需要邀请码(clusterCode)"}
	errUnknownRefresh   = &gatewayError{word: errInvalidGrant, message: "登录已失效", description: "刷新令牌无效或已过期,请重新登录"}
	errSSOUnavailable   = &gatewayError{word: errUnavailable, message: "服务暂时不可用", description: "登录服务暂时不可用,请稍后再试"}
	errDirUnavailable   = &gatewayError{word: errUnavailable, message: "服务暂时不可用", description: "用户目录暂时不可用,请稍后再试"}
	errMethodNotAllowed = &gatewayError{status: 405, word: errInvalidRequest, message: "请求方法错误", description: "只支持 POST 请求"}
	errBodyTooLarge     = &gatewayError{status: 413, word: errInvalidRequest, message: "请求体过大", description: "请求体超过大小限制"}
	errHeaderTooLarge   = &gatewayError{status: 431, word: errInvalidRequest, message: "请求头过大", description: "请求头超过大小限制"}
	errBadHTTP          = &gatewayError{status: 400, word: errInvalidRequest, message: "请求格式错误", description: "无法解析的 HTTP 请求"}
	errNoSuchPath       = &gatewayError{status: 404, word: errNotFound, message: "接口不存在", description: "只提供 POST /oauth/token"}
)

func tooManyRequests(retryAfter int) *gatewayError {
	return &gatewayError{word: errTooManyRequests, message: "登录尝试过于频繁", retryAfter: retryAfter,
		description: "登录失败次数过多,请 " + strconv.Itoa(retryAfter) + " 秒后再试"}
}

func appendHead(dst []byte, code int, success bool) []byte {
	dst = append(dst, `{"code":`...)
	dst = strconv.AppendInt(dst, int64(code), 10)
	if success {
		return append(dst, `,"success":true`...)
	}
	return append(dst, `,"success":false`...)
}

func appendField(dst []byte, key, value string) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, key...)
	dst = append(dst, '"', ':')
	return appendJSONString(dst, value)
}

// appendGatewayError renders a gateway-made 1002 answer.
func appendGatewayError(dst []byte, e *gatewayError, clusterCode string) []byte {
	dst = appendHead(dst, CodeError, false)
	dst = appendField(dst, "message", e.message)
	dst = appendField(dst, "error", e.word)
	dst = appendField(dst, "error_description", e.description)
	if clusterCode != "" {
		dst = appendField(dst, "cluster_code", clusterCode)
	}
	return append(dst, '}')
}

// appendNoData renders the seed's 1001 and 1004 shapes.
func appendNoData(dst []byte, code int, message string) []byte {
	dst = appendHead(dst, code, false)
	dst = append(dst, `,"data":null`...)
	dst = appendField(dst, "message", message)
	return append(dst, '}')
}

// appendChoices renders 1000 with the clusters ordered by code.
func appendChoices(dst []byte, choices []directory.Cluster) []byte {
	dst = appendHead(dst, CodeChooseCluster, false)
	dst = appendField(dst, "message", msgChooseCluster)
	dst = append(dst, `,"cluster_codes":[`...)
	for i, c := range choices {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"cluster_code":`...)
		dst = appendJSONString(dst, c.Code)
		dst = append(dst, `,"name":`...)
		dst = appendJSONString(dst, c.Name)
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}

// Members of an SSO answer that the gateway's own fields replace (SPEC section 2, step 7).
var (
	reservedOnSuccess = []string{"code", "success", "cluster_code", "sso_url", "server_url"}
	reservedOnError   = []string{"code", "success", "message", "cluster_code", "error", "error_description"}
)

// appendSuccess renders code 200: every field of the SSO's answer plus the cluster's URLs.
func appendSuccess(dst []byte, obj *ssoObject, c *directory.Cluster) []byte {
	dst = appendHead(dst, CodeOK, true)
	dst = appendField(dst, "cluster_code", c.Code)
	dst = appendField(dst, "sso_url", c.SSOURL)
	dst = appendField(dst, "server_url", c.ServerURL)
	dst = obj.appendMembers(dst, reservedOnSuccess)
	return append(dst, '}')
}

// appendSSOError renders an SSO's OAuth2 error as code 1002, error and error_description
// unchanged; Spring's generic error JSON carries its text in message instead.
func appendSSOError(dst []byte, obj *ssoObject, clusterCode string) []byte {
	dst = appendHead(dst, CodeError, false)
	dst = appendField(dst, "message", msgSSOError)
	if v, ok := obj.get("error"); ok {
		dst = append(dst, `,"error":`...)
		dst = append(dst, v...)
	}
	desc, ok := obj.get("error_description")
	if !ok {
		desc, ok = obj.get("message")
	}
	if ok {
		dst = append(dst, `,"error_description":`...)
		dst = append(dst, desc...)
	}
	dst = appendField(dst, "cluster_code", clusterCode)
	dst = obj.appendMembers(dst, reservedOnError)
	return append(dst, '}')
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD so the answer is
// always valid JSON; U+2028 and U+2029 are escaped, as encoding/json and slog escape them (a
// script that embeds the text stays valid), so the access line can use it too.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\u202`...)
			dst = append(dst, "89"[r-'\u2028'])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
