package console

import (
	"net/http"
	"strings"
)

// Languages: Chinese first (SPEC section 9), English by the switch or Accept-Language.
const (
	langZH = "zh"
	langEN = "en"
)

// pickLang takes the switch's cookie, then Accept-Language, then Chinese.
func pickLang(r *http.Request) string {
	if c, err := r.Cookie(langCookie); err == nil && (c.Value == langZH || c.Value == langEN) {
		return c.Value
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag := strings.ToLower(strings.TrimSpace(strings.SplitN(part, ";", 2)[0]))
		switch {
		case strings.HasPrefix(tag, "zh"):
			return langZH
		case strings.HasPrefix(tag, "en"):
			return langEN
		}
	}
	return langZH
}

// messages[key] = {zh, en}.
var messages = map[string][2]string{
	"title":             {"ssogate 控制台", "ssogate console"},
	"login":             {"登录", "Log in"},
	"logout":            {"退出", "Log out"},
	"token":             {"管理令牌", "Admin token"},
	"login.hint":        {"使用 admin 权限的管理令牌登录;cluster: 令牌不能登录控制台。", "Log in with an admin-scope token; cluster: tokens cannot use the console."},
	"login.bad":         {"令牌无效,或没有 admin 权限。", "Invalid token, or not of scope admin."},
	"nav.overview":      {"概览", "Overview"},
	"nav.clusters":      {"集群", "Clusters"},
	"nav.users":         {"用户", "Users"},
	"nav.import":        {"导入与同步", "Import and sync"},
	"nav.lockouts":      {"锁定", "Lockouts"},
	"nav.audit":         {"审计", "Audit"},
	"code":              {"代码", "Code"},
	"name":              {"名称", "Name"},
	"enabled":           {"启用", "Enabled"},
	"disabled":          {"停用", "Disabled"},
	"yes":               {"是", "yes"},
	"no":                {"否", "no"},
	"breaker":           {"熔断器", "Breaker"},
	"since":             {"自", "since"},
	"last_error":        {"最近错误", "Last error"},
	"rps":               {"请求/秒", "Requests/s"},
	"share1002":         {"1002 占比", "1002 share"},
	"p95":               {"SSO p95", "SSO p95"},
	"window":            {"近 5 分钟,每 2 秒刷新", "last 5 minutes, refreshed every 2 s"},
	"store":             {"存储", "Store"},
	"store.ok":          {"正常", "reachable"},
	"store.down":        {"不可用", "unreachable"},
	"cache.size":        {"缓存用户名", "Cached usernames"},
	"cache.hit":         {"缓存命中率", "Cache hit ratio"},
	"breaker.":          {"未调用", "not called yet"},
	"breaker.closed":    {"闭合", "closed"},
	"breaker.open":      {"熔断", "open"},
	"breaker.half-open": {"半开", "half-open"},
	"sso_url":           {"SSO 地址", "SSO URL"},
	"server_url":        {"服务地址", "Server URL"},
	"token_url":         {"令牌地址(可选)", "Token URL (optional)"},
	"save":              {"保存", "Save"},
	"new_cluster":       {"新建或编辑集群", "Create or edit a cluster"},
	"edit":              {"编辑", "Edit"},
	"enable":            {"启用", "Enable"},
	"disable":           {"停用", "Disable"},
	"delete":            {"删除", "Delete"},
	"delete.confirm":    {"确定删除集群 %s 及其全部绑定?", "Delete cluster %s and all its bindings?"},
	"probe":             {"探测", "Probe"},
	"probe.ok":          {"可达", "reachable"},
	"probe.fail":        {"不可达", "unreachable"},
	"actions":           {"操作", "Actions"},
	"username":          {"用户名", "Username"},
	"namespace":         {"命名空间", "Namespace"},
	"ns.user":           {"普通应用 (user)", "apps (user)"},
	"ns.manager":        {"管理端 (manager)", "manager app (manager)"},
	"lookup":            {"查询", "Look up"},
	"normalized":        {"规范化用户名", "Normalised name"},
	"bound":             {"绑定的集群", "Bound clusters"},
	"answer":            {"令牌端点的回答", "Token endpoint answers"},
	"answer.route":      {"转发到集群 %s 的 SSO(密码正确时 200)", "forwarded to the SSO of %s (200 on a good password)"},
	"answer.1000":       {"1000:绑定了多个启用的集群,应用需提供邀请码", "1000: bound to several enabled clusters; the app must send an invite code"},
	"answer.1004":       {"1004:没有绑定任何启用的集群", "1004: bound to no enabled cluster"},
	"unknown_cluster":   {"(已删除的集群)", "(deleted cluster)"},
	"bind":              {"绑定", "Bind"},
	"unbind":            {"解绑", "Unbind"},
	"cluster":           {"集群", "Cluster"},
	"list_users":        {"按集群列出用户", "Users of a cluster"},
	"next_page":         {"下一页", "Next page"},
	"none":              {"无", "none"},
	"file":              {"文件(每行一个用户名)", "File (one username a line)"},
	"mode":              {"方式", "Mode"},
	"mode.import":       {"批量绑定(追加)", "Bulk bind (add)"},
	"mode.reconcile":    {"对账(完整名单,多余的解绑)", "Reconcile (the complete list; others are unbound)"},
	"dry_run":           {"预演(不做更改)", "Dry run (change nothing)"},
	"apply":             {"执行", "Apply"},
	"upload":            {"上传", "Upload"},
	"progress":          {"上传进度", "Upload progress"},
	"result":            {"结果", "Result"},
	"rejected.csv":      {"下载被拒绝的行 (CSV)", "Download rejected lines (CSV)"},
	"max_removals":      {"最多解绑", "Max removals"},
	"sync.status":       {"定时同步状态", "Scheduled sync status"},
	"sync.none":         {"未配置定时同步", "no scheduled sync"},
	"sync.na":           {"此版本的接口未提供同步状态", "sync status not available from this API"},
	"ip":                {"IP 地址", "IP address"},
	"search":            {"搜索", "Search"},
	"failures":          {"失败次数", "Failures"},
	"locked_until":      {"锁定至", "Locked until"},
	"remaining":         {"剩余锁定", "Remaining lock"},
	"strikes":           {"累计锁定次数", "Strikes"},
	"unlock":            {"解锁", "Unlock"},
	"not_locked":        {"未锁定", "not locked"},
	"time":              {"时间", "Time"},
	"actor":             {"操作者", "Actor"},
	"action":            {"动作", "Action"},
	"target":            {"对象", "Target"},
	"detail":            {"详情", "Detail"},
	"filter":            {"筛选", "Filter"},
	"error":             {"错误", "Error"},
	"lang.switch":       {"English", "中文"},
}

// tr translates key; an unknown key shows as itself, so a gap is visible, not blank.
func tr(lang, key string) string {
	m, ok := messages[key]
	if !ok {
		return key
	}
	if lang == langEN {
		return m[1]
	}
	return m[0]
}
