"""The operator pages as server-rendered HTML: the recent-trace list and one trace's waterfall.

Pure functions from data to markup, no HTTP. Every value that reaches the page goes through
``esc`` (span attributes hold caller text: app ids, purposes, status messages). No scripts and
no external assets, so the page works offline and under a strict Content-Security-Policy.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import quote

from gateway.audit.chain import STATUS_NAMES
from gateway.ops.traces import Gathered
from gateway.partial import AnswerState
from gateway.telemetry.spanstore import STEP_KIND, StoredSpan, TraceSummary

KEY_ATTRIBUTES = (
    "yrd.app",
    "yrd.interface",
    "yrd.purpose",
    "yrd.peer",
    "yrd.owner",
    "yrd.via",
    "yrd.decision",
    "yrd.reason",
    "yrd.grade",
    "yrd.masked_fields",
    "yrd.dropped_fields",
    "yrd.records",
    "yrd.state",
    "rpc.grpc.status_code",
)
"""Attributes shown on a waterfall row (the rest stay in the row's tooltip)."""
GRPC_STATUS = "rpc.grpc.status_code"
GRPC_CODES = {str(number): name for number, name in enumerate(STATUS_NAMES)}
"""The instrumentation records the status as a number; operators read its name."""
BEIJING = timezone(timedelta(hours=8), "UTC+8")
STATES = {
    AnswerState.ANSWERED: "已应答 answered",
    AnswerState.FAILED: "失败 failed",
    AnswerState.TIMED_OUT: "超时 timed out",
    AnswerState.SKIPPED: "跳过 skipped (breaker open)",
}

_CSS = """
:root { --fg:#1d232b; --muted:#5f6b7a; --line:#d9dee5; --bg:#f6f7f9; --ok:#23824a;
  --err:#c62828; --js:#2f6fde; --sh:#d9480f; --zj:#2b8a3e; --ah:#8e44ad; --other:#7a828c; }
* { box-sizing: border-box; }
body { margin:0; font: 14px/1.45 system-ui, "Noto Sans CJK SC", "Microsoft YaHei", sans-serif;
  color: var(--fg); background: var(--bg); }
header { background:#17324d; color:#fff; padding:10px 20px; display:flex; gap:24px;
  align-items:baseline; }
header .brand { font-weight:600; font-size:16px; }
header a { color:#cfe0f5; text-decoration:none; }
header a:hover { text-decoration:underline; }
main { padding: 16px 20px 40px; }
h1 { font-size:18px; margin:4px 0 12px; }
h2 { font-size:15px; margin:22px 0 8px; }
table { border-collapse:collapse; width:100%; background:#fff; border:1px solid var(--line); }
th, td { text-align:left; padding:5px 8px; border-bottom:1px solid var(--line);
  vertical-align:top; }
th { background:#eef1f5; font-weight:600; font-size:12px; color:var(--muted); }
td.num, th.num { text-align:right; font-variant-numeric: tabular-nums; white-space:nowrap; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
  font-size:12.5px; }
.muted { color: var(--muted); }
.status-OK { color: var(--ok); font-weight:600; }
.status-ERROR { color: var(--err); font-weight:700; }
.status-REFUSED { color: #b35c00; font-weight:600; }
.prov { display:inline-block; padding:0 6px; border-radius:3px; color:#fff;
  font-size:12px; white-space:nowrap; background: var(--other); }
.prov-js { background: var(--js); } .prov-sh { background: var(--sh); }
.prov-zj { background: var(--zj); } .prov-ah { background: var(--ah); }
.op { white-space:nowrap; }
.op .tree { color: var(--muted); }
.kind { font-size:11px; color: var(--muted); margin-left:4px; }
.barcell { width: 28%; min-width: 180px; }
.track { position:relative; height:14px; background:#f0f2f5; border-radius:2px; }
.bar { position:absolute; top:2px; height:10px; border-radius:2px; background: var(--other); }
.bar.prov-js { background: var(--js); } .bar.prov-sh { background: var(--sh); }
.bar.prov-zj { background: var(--zj); } .bar.prov-ah { background: var(--ah); }
.bar.status-ERROR, .bar.status-REFUSED { outline: 2px solid var(--err); }
.attr { display:inline-block; margin:0 4px 2px 0; padding:0 5px; border:1px solid var(--line);
  border-radius:3px; background:#fafbfc; font-size:12px; overflow-wrap:anywhere; }
.attr b { font-weight:600; color: var(--muted); }
.attr.bad { border-color:#f1b0b0; background:#fdecec; color: var(--err); }
.banner { padding:10px 14px; border-radius:4px; margin:0 0 14px; font-weight:600; }
.banner.partial { background:#fff4e5; border:1px solid #f0a33a; color:#8a4b00; }
.banner.complete { background:#eaf6ee; border:1px solid #9fd3ae; color:#1e6b38; }
.summary { display:flex; flex-wrap:wrap; gap:8px 24px; margin:0 0 12px; }
.summary .label { color: var(--muted); margin-right:6px; }
form.filters { display:flex; flex-wrap:wrap; gap:8px 14px; align-items:end; margin:0 0 14px;
  background:#fff; border:1px solid var(--line); padding:10px 12px; }
form.filters label { display:flex; flex-direction:column; font-size:12px; color:var(--muted); }
form.filters input, form.filters select { font:inherit; padding:3px 6px; min-width:9em; }
.empty { padding:18px; background:#fff; border:1px solid var(--line); color:var(--muted); }
.err-msg { color: var(--err); font-size:12px; max-width:360px; overflow-wrap:anywhere; }
td.attrs { min-width:340px; }
"""


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def province(node: str, names: Mapping[str, str]) -> str:
    """A coloured badge: the Chinese province name and the node id, e.g. ``上海 sh``."""
    css = f"prov-{node}" if node in names else "prov-other"
    label = f"{names[node]} {node}" if node in names else node or "?"
    return f'<span class="prov {esc(css)}" title="node {esc(node)}">{esc(label)}</span>'


def page(title: str, body: str, *, node: str, names: Mapping[str, str]) -> str:
    here = names.get(node, node)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)} · {esc(here)} · yrd-gateway</title>"
        f"<style>{_CSS}</style></head><body>"
        f'<header><span class="brand">长三角数据网关 yrd-gateway · {esc(here)} ({esc(node)}) 运维'
        "</span>"
        '<a href="/traces">调用链 Traces</a><a href="/metrics">指标 Metrics</a>'
        '<a href="/healthz">健康 Health</a>'
        '<form class="logout" method="post" action="/logout"><button type="submit">'
        "退出 Log out</button></form></header>"
        f"<main>{body}</main></body></html>\n"
    )


def clock(ns: int) -> str:
    """Beijing time to the millisecond: what an operator in the delta reads."""
    moment = datetime.fromtimestamp(ns / 1e9, BEIJING)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def iso_utc(ns: int) -> str:
    return (
        datetime.fromtimestamp(ns / 1e9, UTC)
        .isoformat(timespec="microseconds")
        .replace("+00:00", "Z")
    )


def ms(value: float) -> str:
    return f"{value:,.2f} ms"


def login_page(next_path: str, problem: str, *, node: str, names: Mapping[str, str]) -> str:
    """The operator's login form: the node's operator token, posted back to ``/login``."""
    here = names.get(node, node)
    warning = f'<p class="err-msg" id="login-problem">{esc(problem)}</p>' if problem else ""
    body = (
        f"<h1>运维登录 Operator login · {esc(here)} ({esc(node)})</h1>"
        '<p class="muted">The trace pages are for this node\'s operator: enter the operator '
        f'token (<span class="mono">&lt;data_dir&gt;/{esc(node)}/operator.token</span>), '
        'or send <span class="mono">Authorization: Bearer &lt;token&gt;</span>.</p>'
        f"{warning}"
        '<form class="filters" id="login" method="post" action="/login">'
        f'<input type="hidden" name="next" value="{esc(next_path)}">'
        '<label>运维令牌 operator token<input name="token" type="password" size="48" '
        'autocomplete="current-password" required></label>'
        '<button type="submit">登录 Log in</button></form>'
    )
    return page("运维登录 Login", body, node=node, names=names)


def trace_link(trace_id: str) -> str:
    return f"/traces/{quote(trace_id, safe='')}"


# -- the list ------------------------------------------------------------------------------


def traces_page(
    summaries: Sequence[TraceSummary],
    filters: Mapping[str, str],
    *,
    node: str,
    names: Mapping[str, str],
) -> str:
    here = names.get(node, node)
    status = filters.get("status", "")
    options = "".join(
        f'<option value="{esc(v)}"{" selected" if v == status else ""}>{esc(label)}</option>'
        for v, label in (("", "全部 any"), ("OK", "OK"), ("ERROR", "ERROR"))
    )
    form = (
        '<form class="filters" method="get" action="/traces">'
        f'<label>应用 app<input name="app" value="{esc(filters.get("app", ""))}" '
        'placeholder="js/rsj/pension-transfer"></label>'
        f'<label>接口 interface<input name="interface" value="{esc(filters.get("interface", ""))}"'
        ' placeholder="sh/gaj/resident-basic/v1"></label>'
        f'<label>状态 status<select name="status">{options}</select></label>'
        f'<label>最短耗时 min ms<input name="min_ms" inputmode="decimal" '
        f'value="{esc(filters.get("min_ms", ""))}" placeholder="0"></label>'
        '<button type="submit">筛选 Filter</button></form>'
        '<form class="filters" method="get" action="/trace">'
        '<label>按编号打开 open trace id<input name="id" size="36" '
        'placeholder="32 hex characters" class="mono"></label>'
        '<button type="submit">打开 Open</button></form>'
    )
    if not summaries:
        listing = '<div class="empty" id="no-traces">没有符合条件的调用链 (no traces)</div>'
    else:
        rows = "".join(_summary_row(s, names) for s in summaries)
        listing = (
            '<table id="traces"><thead><tr><th>开始时间 start (UTC+8)</th><th>trace id</th>'
            "<th>入口 operation</th><th>应用 app</th><th>接口 interface</th>"
            '<th class="num">耗时 duration</th><th>状态 status</th>'
            '<th class="num">本节点 spans</th>'
            f"</tr></thead><tbody>{rows}</tbody></table>"
        )
    body = (
        f"<h1>最近调用链 Recent traces · entered at {esc(here)} ({esc(node)})</h1>"
        '<p class="muted">Newest first. A waterfall gathers the trace from every node of the '
        "federation.</p>"
        f"{form}{listing}"
    )
    return page("调用链 Traces", body, node=node, names=names)


def _summary_row(s: TraceSummary, names: Mapping[str, str]) -> str:
    return (
        f'<tr class="trace-row"><td class="mono" title="{esc(iso_utc(s.start_ns))}">'
        f"{esc(clock(s.start_ns))}</td>"
        f'<td><a class="mono" href="{esc(trace_link(s.trace_id))}">{esc(s.trace_id)}</a></td>'
        f'<td class="op">{esc(s.root)} {province(s.node, names)}</td>'
        f'<td class="mono">{esc(s.app) or "-"}</td><td class="mono">{esc(s.interface) or "-"}</td>'
        f'<td class="num">{esc(ms(s.duration_ms))}</td>'
        f'<td class="status-{esc(s.status)}">{esc(s.status)}</td>'
        f'<td class="num">{s.span_count:d}</td></tr>'
    )


# -- the waterfall -------------------------------------------------------------------------


def span_tree(spans: Iterable[StoredSpan]) -> list[tuple[StoredSpan, int]]:
    """Spans in display order with their depth: parents before children, siblings by start.

    A span whose parent is not in the trace (an app's own traceparent, or a node that did not
    answer) is a root. Mirrors the terminal waterfall of ``yrdgw trace show``.
    """
    unique: dict[str, StoredSpan] = {}
    for s in spans:
        unique.setdefault(s.span_id, s)
    children: dict[str, list[StoredSpan]] = {}
    for s in unique.values():
        parent = s.parent_id if s.parent_id in unique and s.parent_id != s.span_id else ""
        children.setdefault(parent, []).append(s)
    for kids in children.values():
        kids.sort(key=lambda c: (c.start_ns, c.span_id))
    ordered: list[tuple[StoredSpan, int]] = []
    seen: set[str] = set()
    stack = [(s, 0) for s in reversed(children.get("", []))]
    while stack:
        span, depth = stack.pop()
        if span.span_id in seen:
            continue
        seen.add(span.span_id)
        ordered.append((span, depth))
        stack.extend((c, depth + 1) for c in reversed(children.get(span.span_id, [])))
    # Parent links that loop never reach a root; show such spans rather than hide them.
    ordered.extend(
        (s, 0) for s in sorted(unique.values(), key=lambda s: s.start_ns) if s.span_id not in seen
    )
    return ordered


def trace_page(
    trace_id: str, gathered: Sequence[Gathered], *, node: str, names: Mapping[str, str]
) -> str:
    spans = [s for g in gathered for s in g.spans]
    rows = span_tree(spans)
    start = min(s.start_ns for s, _ in rows)
    end = max(s.start_ns + int(s.duration_ms * 1e6) for s, _ in rows)
    total = max(end - start, 1)
    provinces = []
    for s, _ in sorted(rows, key=lambda r: r[0].start_ns):
        if s.node not in provinces:
            provinces.append(s.node)
    errors = sum(1 for s, _ in rows if shown_status(s) != "OK")
    steps = sum(1 for s, _ in rows if s.kind == STEP_KIND)
    error_css = "status-ERROR" if errors else ""
    summary = (
        '<div class="summary">'
        + _fact("trace id", f'<code id="trace-id">{esc(trace_id)}</code>')
        + _fact(
            "开始 start (UTC+8)",
            f'<span class="mono" title="{esc(iso_utc(start))}">{esc(clock(start))}</span>',
        )
        + _fact("总耗时 total", f'<b id="total">{esc(ms(total / 1e6))}</b>')
        + _fact("spans", f'<b id="span-count">{len(rows) - steps}</b>')
        + _fact("步骤 steps", f'<b id="step-count">{steps}</b>')
        + _fact("错误/拒绝 errors", f'<b class="{error_css}">{errors}</b>')
        + _fact("经过省份 provinces", " → ".join(province(p, names) for p in provinces))
        + "</div>"
    )
    table = (
        '<table id="waterfall"><thead><tr><th>操作 operation</th><th>省份 province</th>'
        '<th class="num">起点 offset</th><th class="num">耗时 duration</th><th>状态 status</th>'
        '<th class="barcell">时间线 timeline</th><th>关键属性 attributes</th></tr></thead><tbody>'
        + "".join(_span_row(s, depth, start, total, names) for s, depth in rows)
        + "</tbody></table>"
    )
    body = (
        f"<h1>调用链 Trace <code>{esc(trace_id)}</code></h1>"
        f"{gather_banner(gathered, names)}{summary}{table}"
        f"<h2>各节点应答 Gathered from</h2>{gather_table(gathered, names)}"
        f'<p><a href="/traces">← 最近调用链 recent traces</a></p>'
    )
    return page(f"Trace {trace_id[:8]}", body, node=node, names=names)


def _fact(label: str, value_html: str) -> str:
    return f'<div><span class="label">{esc(label)}</span>{value_html}</div>'


def _span_row(s: StoredSpan, depth: int, start: int, total: int, names: Mapping[str, str]) -> str:
    left = (s.start_ns - start) / total * 100
    width = max(s.duration_ms * 1e6 / total * 100, 0.4)
    width = min(width, max(100 - left, 0.4))
    prov_css = f"prov-{s.node}" if s.node in names else "prov-other"
    attrs = "".join(
        _chip(k, s.attributes[k]) for k in KEY_ATTRIBUTES if s.attributes.get(k, "") != ""
    )
    everything = "\n".join(f"{k}={v}" for k, v in sorted(s.attributes.items()))
    message = f'<div class="err-msg">{esc(s.status_message)}</div>' if s.status_message else ""
    tree = '<span class="tree">└ </span>' if depth else ""
    if s.kind == STEP_KIND:  # a step of its parent span (an event with a length), not a span
        tree = '<span class="tree">· </span>'
    shown = shown_status(s)
    shown_css = shown if shown in ("OK", "ERROR") else "REFUSED"
    return (
        f'<tr class="span-row" data-node="{esc(s.node)}" data-span-id="{esc(s.span_id)}" '
        f'data-depth="{depth:d}" title="{esc(everything)}">'
        f'<td class="op" style="padding-left:{8 + depth * 18:d}px">{tree}'
        f'<span class="name">{esc(s.name)}</span><span class="kind">{esc(s.kind)}</span></td>'
        f"<td>{province(s.node, names)}</td>"
        f'<td class="num">+{esc(ms((s.start_ns - start) / 1e6))}</td>'
        f'<td class="num duration">{esc(ms(s.duration_ms))}</td>'
        f'<td class="status-{esc(shown_css)}" data-status="{esc(s.status)}" '
        f'title="span status {esc(s.status)}">{esc(shown)}{message}</td>'
        f'<td class="barcell"><div class="track"><div class="bar {esc(prov_css)} '
        f'status-{esc(shown_css)}" style="left:{left:.3f}%;width:{width:.3f}%"></div></div></td>'
        f'<td class="attrs">{attrs}</td></tr>'
    )


def shown_status(s: StoredSpan) -> str:
    """What a person should read: a call's gRPC status (PERMISSION_DENIED says more than ERROR),
    else the span's own status."""
    code = GRPC_CODES.get(s.attributes.get(GRPC_STATUS, ""), "")
    if code and code != "OK":
        return code
    return "ERROR" if s.status == "ERROR" else "OK"


def _chip(key: str, value: str) -> str:
    label = "grpc" if key == GRPC_STATUS else key.removeprefix("yrd.")
    if key == GRPC_STATUS:
        value = GRPC_CODES.get(value, value)
    bad = (
        " bad"
        if (key == GRPC_STATUS and value != "OK") or (key == "yrd.decision" and value == "deny")
        else ""
    )
    return (
        f'<span class="attr{bad}" data-key="{esc(label)}"><b>{esc(label)}</b> {esc(value)}</span>'
    )


def gather_banner(gathered: Sequence[Gathered], names: Mapping[str, str]) -> str:
    missing = [g for g in gathered if g.state != AnswerState.ANSWERED]
    if not missing:
        return (
            '<div class="banner complete" id="complete">完整 COMPLETE — every node answered: '
            + " ".join(province(g.node, names) for g in gathered)
            + "</div>"
        )
    which = "; ".join(
        f"{province(g.node, names)} {esc(g.state)}" + (f" ({esc(g.reason)})" if g.reason else "")
        for g in missing
    )
    return (
        '<div class="banner partial" id="partial" role="alert">PARTIAL 部分结果 — '
        f"these nodes did not answer, their spans may be missing: {which}</div>"
    )


def gather_table(gathered: Sequence[Gathered], names: Mapping[str, str]) -> str:
    rows = "".join(
        f'<tr class="gather-row" data-node="{esc(g.node)}" data-state="{esc(g.state)}">'
        f"<td>{province(g.node, names)}</td><td>{esc(STATES.get(g.state, g.state))}</td>"
        f'<td class="num">{len(g.spans):d}</td><td class="mono">{esc(g.reason) or "-"}</td></tr>'
        for g in gathered
    )
    return (
        '<table id="gathered"><thead><tr><th>省份 province</th><th>状态 state</th>'
        '<th class="num">spans</th><th>原因 reason</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )


# -- errors --------------------------------------------------------------------------------


def error_page(
    status: int, title: str, message: str, *, node: str, names: Mapping[str, str], extra: str = ""
) -> str:
    body = (
        f'<h1 id="error" data-status="{status:d}">{status:d} · {esc(title)}</h1>'
        f'<p id="error-message">{esc(message)}</p>{extra}'
        '<p><a href="/traces">← 最近调用链 recent traces</a></p>'
    )
    return page(f"{status:d} {title}", body, node=node, names=names)
