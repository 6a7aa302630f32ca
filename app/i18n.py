"""The one catalogue of user-facing strings, Chinese first, English beside it."""

CATALOG: dict[str, tuple[str, str]] = {
    # Errors
    "validation_error": ("提交的内容有误，请检查后重试。", "Some of what was sent is not valid; please check it."),
    "not_found": ("找不到您要的页面或内容。", "Not found."),
    "grid_not_found": ("找不到这个网格二维码，请核对后重试，或拨打社区电话。",
                       "This grid code is unknown; please check it or call the community office."),
    "token_replaced": ("这个二维码已被替换，请扫描公告栏上的新二维码，或拨打社区电话。",
                       "This code was replaced: please scan the new code on the notice board, "
                       "or call the community office."),
    "invalid_phone": ("电话号码无效，请输入手机号或带区号的固定电话。",
                      "Invalid phone number: enter a mobile number or a landline with its area code."),
    "bad_credentials": ("手机号或密码不正确。", "Wrong phone number or password."),
    "login_throttled": ("登录失败次数过多，请稍后再试。", "Too many failed logins; please try again later."),
    "not_authenticated": ("请先登录。", "Please log in."),
    "csrf_failed": ("安全校验失败，请刷新页面后重试。", "Security check failed; reload the page and try again."),
    "forbidden": ("您没有权限进行此操作。", "You are not allowed to do this."),
    "method_not_allowed": ("不支持此请求方式。", "Method not allowed."),
    "internal_error": ("服务器出错了，请稍后再试。", "Something went wrong on our side; please try again."),
    "malformed_json": ("请求内容不是有效的 JSON。", "The request body is not valid JSON."),
    "unsupported_media_type": ("不支持的内容类型。", "Unsupported content type."),
    "too_large": ("提交的内容太大。", "The request is too large."),
    "unknown_category": ("没有这个问题类别。", "Unknown category."),
    "rate_limited": ("提交太频繁，请稍后再试；紧急情况请直接拨打社区电话。",
                     "Too many reports; please try again later, or call the community office if it is urgent."),
    "idempotency_mismatch": ("这个 Idempotency-Key 已用于另一份内容不同的反映。",
                             "This Idempotency-Key was already used with a different body."),
    "idempotency_in_flight": ("同一份反映正在提交中，请稍候。", "The same report is still being submitted."),
    "case_not_found": ("找不到这个查询码，请核对后重试。", "No report with this tracking code."),
    # Case statuses and public timeline
    "status_open": ("等待网格员联系", "Waiting for a grid worker to contact you"),
    "status_contacted": ("网格员已联系，正在处理", "Contacted; being handled"),
    "status_resolved": ("已处理，等待审核", "Handled; being reviewed"),
    "status_closed": ("已办结", "Closed"),
    "event_created": ("已收到您的反映", "Report received"),
    "event_paged": ("已通知网格员", "Grid worker notified"),
    "event_acknowledged": ("网格员已接单", "Grid worker has taken it"),
    "event_escalated": ("已提请上级跟进", "Raised to the next level"),
    "event_reassigned": ("已转交其他网格员", "Passed to another grid worker"),
    "event_contacted": ("网格员已联系您", "A grid worker contacted you"),
    "event_resolved": ("问题已处理", "Problem handled"),
    "event_closed": ("已办结", "Closed"),
    "event_attachment": ("已收到照片或语音", "Photo or voice note received"),
    "track_title": ("反映进度", "Report progress"),
    "tracking_code_label": ("查询码", "Tracking code"),
    "contact_due_label": ("联系时限", "Contact due by"),
    "save_link_hint": ("请保存或分享此页面链接，随时查看进度。", "Save or share this page's link to check progress."),
    # Pages
    "app_name": ("码上办", "Mashang"),
    "slogan": ("扫码反映 马上办理", "Scan to report, handled at once"),
    "contact_promise": ("网格员将在{minutes}分钟内联系您", "A grid worker will contact you within {minutes} minutes"),
    "office_phone_hint": ("没有智能手机？请拨打社区电话", "No smartphone? Call the community office"),
    "grid_label": ("网格", "Grid"),
    "community_label": ("社区", "Community"),
    "report_coming": ("在线反映表单即将开放；现在请拨打社区电话反映问题。",
                      "The online report form is coming; for now, please call the community office."),
    "replaced_title": ("二维码已更换", "This code was replaced"),
    "not_found_title": ("找不到页面", "Page not found"),
    "switch_language": ("English", "中文"),
}


def t(key: str, lang: str = "zh", **values: object) -> str:
    """The string for key in lang ("zh" or "en"), formatted with values."""
    zh, en = CATALOG[key]
    text = en if lang == "en" else zh
    return text.format(**values) if values else text
