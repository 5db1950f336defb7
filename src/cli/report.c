/* report.c - "pool report --html DIR": the pool as a static site for the
 * people who review candidates.
 *
 * No server (nothing to log in to, nothing listening): files a browser
 * opens from file:// or any web server.  Every string that came from a
 * candidate or a caller (code, names, metrics, messages, titles, risk
 * assessments) goes through site_html() before it reaches a page, and nothing
 * else is written raw but this file's own markup and numbers it formats;
 * the pages work without JavaScript (a few lines sort the tables when it
 * runs).  Decisions are not made here: an approval page shows the command
 * that makes one, in the CLI, which keeps the append-only trail. */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/base.h"
#include "cli/report.h"
#include "cli/site.h"
#include "common/diff.h"
#include "common/sbuf.h"
#include "common/util.h"
#include "pipeline/verdict.h"

extern char **environ;

/* ---- escaping ------------------------------------------------------------ */

/* S as HTML text or attribute value: & < > " ' become entities, and a
 * control character other than tab and newline a visible U+FFFD.  Bytes
 * that are not UTF-8 are replaced too, so a page is always valid UTF-8. */
void site_html(struct sbuf *out, const char *s)
{
	for (size_t i = 0; s && s[i];) {
		unsigned char c = (unsigned char)s[i];

		switch (c) {
		case '&':
			sbuf_adds(out, "&amp;");
			i++;
			continue;
		case '<':
			sbuf_adds(out, "&lt;");
			i++;
			continue;
		case '>':
			sbuf_adds(out, "&gt;");
			i++;
			continue;
		case '"':
			sbuf_adds(out, "&quot;");
			i++;
			continue;
		case '\'':
			sbuf_adds(out, "&#39;");
			i++;
			continue;
		default: break;
		}
		if (c < 0x20 && c != '\t' && c != '\n') {
			sbuf_adds(out, "\xef\xbf\xbd");
			i++;
		} else if (c < 0x80) {
			sbuf_addc(out, (char)c);
			i++;
		} else {
			size_t n = util_utf8_char(s + i, strlen(s + i));

			if (n)
				sbuf_add(out, s + i, n);
			else
				sbuf_adds(out, "\xef\xbf\xbd");
			i += n ? n : 1;
		}
	}
}

void site_htmlf_num(struct sbuf *out, double v)
{
	if (!isfinite(v))
		sbuf_adds(out, "-");
	else if (v == floor(v) && fabs(v) < 1e15)
		sbuf_addf(out, "%.0f", v);
	else
		sbuf_addf(out, "%.4g", v);
}

/* A JSON value as readable HTML: strings escaped, numbers formatted,
 * objects as nested tables, long number arrays summarised. */
static void html_value(struct sbuf *out, const struct json *v, int depth)
{
	if (!v || v->type == JSON_NULL) {
		sbuf_adds(out, "<span class=dim>none</span>");
		return;
	}
	switch (v->type) {
	case JSON_BOOL: sbuf_adds(out, v->b ? "yes" : "no"); break;
	case JSON_NUMBER: site_htmlf_num(out, v->n); break;
	case JSON_STRING:
		sbuf_adds(out, "<span class=pre>");
		site_html(out, v->s);
		sbuf_adds(out, "</span>");
		break;
	case JSON_ARRAY: {
		bool numbers = v->count > 0;

		for (size_t i = 0; i < v->count; i++)
			numbers = numbers && (v->items[i]->type == JSON_NUMBER || v->items[i]->type == JSON_NULL);
		if (numbers && v->count > 8) {
			sbuf_addf(out, "%zu values, ", v->count);
			html_value(out, v->items[0], depth + 1);
			sbuf_adds(out, " &rarr; ");
			html_value(out, v->items[v->count - 1], depth + 1);
			break;
		}
		for (size_t i = 0; i < v->count && i < 50; i++) {
			if (i)
				sbuf_adds(out, ", ");
			html_value(out, v->items[i], depth + 1);
		}
		if (v->count > 50)
			sbuf_addf(out, ", &hellip; (%zu in all)", v->count);
		break;
	}
	case JSON_OBJECT:
		if (depth > 4) {
			sbuf_adds(out, "&hellip;");
			break;
		}
		sbuf_adds(out, "<table class=kv>");
		for (size_t i = 0; i < v->count; i++) {
			sbuf_adds(out, "<tr><th>");
			site_html(out, v->keys[i]);
			sbuf_adds(out, "</th><td>");
			html_value(out, v->items[i], depth + 1);
			sbuf_adds(out, "</td></tr>");
		}
		sbuf_adds(out, "</table>");
		break;
	default: break;
	}
}

/* ---- pages --------------------------------------------------------------- */

static const char style[] =
    "body{font:14px/1.45 system-ui,sans-serif;margin:1.5em auto;max-width:72em;padding:0 1em;color:#222}"
    "h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em;border-bottom:1px solid #ddd}"
    "table{border-collapse:collapse}td,th{padding:.2em .6em;text-align:left;vertical-align:top}"
    "table.list td,table.list th{border-bottom:1px solid #eee}table.list th{cursor:pointer;background:#f6f6f6}"
    "table.kv th{font-weight:600;color:#555;white-space:nowrap}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}"
    ".pre,pre{white-space:pre-wrap;word-break:break-word;font-family:ui-monospace,monospace;font-size:13px}"
    "pre{background:#f8f8f8;padding:.6em;border:1px solid #eee;overflow-x:auto}"
    ".accepted{color:#176f2c;font-weight:600}.rejected,.violation,.timeout,.memory,.crash,.error"
    "{color:#b3261e;font-weight:600}.pass{color:#176f2c}.fail{color:#b3261e;font-weight:600}"
    ".warn,.skip,.skipped{color:#8a5a00}.dim{color:#888}.pending{color:#8a5a00;font-weight:600}"
    ".approved,.signed{color:#176f2c;font-weight:600}"
    ".forged,.untrusted,.unsigned{color:#fff;background:#b3261e;font-weight:700;padding:0 .3em}"
    ".add{background:#e6ffec}.del{background:#ffebe9}.hunk{color:#0550ae}"
    ".banner{background:#fff4d6;border:1px solid #e0b400;padding:.5em}"
    "nav a{margin-right:1em}code{font-family:ui-monospace,monospace}";

/* Sorting by a click on a column head; the tables are complete without
 * it.  data-v holds a cell's sort key. */
static const char sort_js[] =
    "<script>document.body.dataset.js='1';document.querySelectorAll('table.list').forEach(function(t){t.dataset."
    "sortable='1';"
    "t.querySelectorAll('th').forEach(function(h,i){h.addEventListener('click',function(){"
    "var b=t.tBodies[0],r=Array.prototype.slice.call(b.rows),d=h.dataset.dir=h.dataset.dir==='a'?'d':'a';"
    "r.sort(function(x,y){var p=x.cells[i].dataset.v,q=y.cells[i].dataset.v,"
    "u=parseFloat(p),w=parseFloat(q);var c=(!isNaN(u)&&!isNaN(w))?u-w:(p||'').localeCompare(q||'');"
    "return d==='a'?c:-c;});r.forEach(function(x){b.appendChild(x);});});});});</script>";

void site_page_begin(struct sbuf *out, const char *title, const char *root)
{
	sbuf_adds(out, "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
		       "<meta name=viewport content=\"width=device-width\">"
		       "<meta http-equiv=Content-Security-Policy content=\"default-src 'none'; "
		       "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src 'self'\"><title>");
	site_html(out, title);
	sbuf_addf(out,
		  "</title><style>%s</style></head><body><nav><a href=\"%sindex.html\">candidates</a>"
		  "<a href=\"%sapprovals.html\">approvals</a><a href=\"%sgenerations.html\">generations</a>"
		  "<a href=\"%scompare.html\">compare</a><a href=\"%slineage.html\">lineage</a></nav>\n",
		  style, root, root, root, root, root);
}

void site_page_end(struct sbuf *out)
{
	sbuf_adds(out, sort_js);
	sbuf_adds(out, "\n</body></html>\n");
}

static int write_page(const char *dir, const char *name, struct sbuf *page, char *err, size_t errlen)
{
	char *path = xasprintf("%s/%s", dir, name);
	int rc = util_write_file(path, page->buf ? page->buf : "", page->len, 0644);

	if (rc < 0)
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(-rc));
	free(path);
	sbuf_release(page);
	return rc < 0 ? -1 : 0;
}

/* A status word as a span with its class (the class is one of ours). */
void site_status_span(struct sbuf *out, const char *st)
{
	/* the statuses (verdict_table), then the checks' and approvals' words */
	static const char *const known[] = {"pass",      "fail",    "warn",
					    "skip",     "pending",  "approved",  "skipped",  "forged",
					    "untrusted", "signed",  "unsigned"};
	const char *cls = "dim";

	if (verdict_known(st))
		cls = verdict_name(verdict_from_name(st));
	for (size_t i = 0; st && i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(st, known[i]))
			cls = known[i];
	sbuf_addf(out, "<span class=%s>", cls);
	site_html(out, st ? st : "-");
	sbuf_adds(out, "</span>");
}

void site_num_cell(struct sbuf *out, const struct json *o, const char *key)
{
	double v;

	if (json_get_num(o, key, &v) && isfinite(v)) {
		sbuf_addf(out, "<td class=n data-v=\"%.17g\">", v);
		site_htmlf_num(out, v);
		sbuf_adds(out, "</td>");
	} else {
		sbuf_adds(out, "<td class=n data-v=\"\">-</td>");
	}
}

/* Code with line numbers; a diff with its lines coloured. */
static void code_block(struct sbuf *out, const char *code, bool is_diff)
{
	int line = 1;

	sbuf_adds(out, "<pre>");
	for (const char *l = code ? code : ""; *l;) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);
		char *one = xstrndup(l, len);

		if (is_diff) {
			const char *cls = *one == '+' && strncmp(one, "+++ ", 4)   ? "add"
					  : *one == '-' && strncmp(one, "--- ", 4) ? "del"
					  : *one == '@'                            ? "hunk"
										   : NULL;

			if (cls)
				sbuf_addf(out, "<span class=%s>", cls);
			site_html(out, one);
			if (cls)
				sbuf_adds(out, "</span>");
		} else {
			sbuf_addf(out, "<span class=dim>%4d </span>", line++);
			site_html(out, one);
		}
		sbuf_addc(out, '\n');
		free(one);
		l = nl ? nl + 1 : l + len;
	}
	sbuf_adds(out, "</pre>\n");
}

/* The loss curve of CAND (solid) over its PARENT's (dashed), in SVG drawn
 * here: numbers only, no text from either. */
static void loss_svg(struct sbuf *out, const struct json *cand, const struct json *parent, long long parent_id)
{
	const struct json *a = json_get(json_get(cand, "metrics"), "loss_curve");
	const struct json *b = parent ? json_get(json_get(parent, "metrics"), "loss_curve") : NULL;
	const struct json *curves[2] = {a, b};
	double lo = INFINITY, hi = -INFINITY;
	size_t n = 0;
	const double W = 560, H = 220, L = 60, R = 10, TOP = 10, B = 30;

	for (int c = 0; c < 2; c++)
		for (size_t i = 0; curves[c] && curves[c]->type == JSON_ARRAY && i < curves[c]->count; i++) {
			const struct json *v = curves[c]->items[i];

			if (v->type == JSON_NUMBER && isfinite(v->n)) {
				lo = fmin(lo, v->n);
				hi = fmax(hi, v->n);
			}
			n = curves[c]->count > n ? curves[c]->count : n;
		}
	if (!isfinite(lo) || n < 2) {
		sbuf_adds(out, "<p class=dim>no loss curve (the candidate was not trained)</p>\n");
		return;
	}
	if (hi <= lo)
		hi = lo + 1;
	sbuf_addf(out,
		  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" role=img "
		  "aria-label=\"training loss by step\"><rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" "
		  "fill=\"#fafafa\" stroke=\"#ccc\"/>",
		  W, H, L, TOP, W - L - R, H - TOP - B);
	for (int t = 0; t <= 4; t++) {
		double v = lo + (hi - lo) * t / 4, y = TOP + (H - TOP - B) * (1 - t / 4.0);

		sbuf_addf(out,
			  "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>"
			  "<text x=\"%.0f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%.4g</text>",
			  L, W - R, y, y, L - 4, y + 4, v);
	}
	sbuf_addf(out,
		  "<text x=\"%.0f\" y=\"%.0f\" font-size=\"11\">step 1</text>"
		  "<text x=\"%.0f\" y=\"%.0f\" font-size=\"11\" text-anchor=\"end\">step %zu</text>",
		  L, H - 10, W - R, H - 10, n);
	for (int c = 1; c >= 0; c--) {
		const struct json *cv = curves[c];
		bool open = false;

		if (!cv || cv->type != JSON_ARRAY)
			continue;
		for (size_t i = 0; i < cv->count; i++) {
			const struct json *v = cv->items[i];
			double x, y;

			if (v->type != JSON_NUMBER || !isfinite(v->n)) {
				if (open)
					sbuf_adds(out, "\"/>");
				open = false;
				continue;
			}
			x = L + (W - L - R) * (double)i / (double)(n - 1);
			y = TOP + (H - TOP - B) * (1 - (v->n - lo) / (hi - lo));
			if (!open)
				sbuf_addf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%s\"%s points=\"",
					  c ? "#999" : "#0550ae", c ? "1.5" : "2",
					  c ? " stroke-dasharray=\"5 3\"" : "");
			sbuf_addf(out, "%.1f,%.1f ", x, y);
			open = true;
		}
		if (open)
			sbuf_adds(out, "\"/>");
	}
	sbuf_adds(out, "</svg>\n<p><span style=\"color:#0550ae\">&#9473;</span> this candidate");
	if (b && b->type == JSON_ARRAY)
		sbuf_addf(out, " &nbsp; <span style=\"color:#999\">&#9476;</span> its parent, #%lld", parent_id);
	sbuf_adds(out, "</p>\n");
}

/* The warning a verdict the candidate's own process gave carries on every
 * page that shows it. */
static void unverified_banner(struct sbuf *out, const struct json *j)
{
	if (cli_unverified(j))
		sbuf_adds(out, "<p class=banner>UNVERIFIED: validated inside the candidate's own process "
			       "(validation.export_failure: in-process); it could have forged this result.</p>\n");
}

/* ---- the index ----------------------------------------------------------- */


bool site_included(const struct site *s, const struct json *row)
{
	double id = 0;

	json_get_num(row, "id", &id);
	return (long long)id >= s->since;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp((*(struct json *const *)a)->s, (*(struct json *const *)b)->s);
}

static void collect_user_keys(struct site *s)
{
	s->user_keys = json_array();
	for (size_t i = 0; i < s->rows->count; i++) {
		const struct json *um = json_get(s->rows->items[i], "user_metrics");

		for (size_t k = 0; um && um->type == JSON_OBJECT && k < um->count; k++) {
			bool seen = false;

			for (size_t j = 0; j < s->user_keys->count && !seen; j++)
				seen = !strcmp(s->user_keys->items[j]->s, um->keys[k]);
			if (!seen && s->user_keys->count < 20)
				json_append(s->user_keys, json_str(um->keys[k]));
		}
	}
	qsort(s->user_keys->items, s->user_keys->count, sizeof(struct json *), cmp_str);
}

/* The index's filters (a row of inputs under the heads; the state also
 * in the URL: index.html#status=accepted&gen=1..2) and the compare
 * button.  Without script the table is complete and unfiltered. */
static const char filter_js[] =
    "<script>(function(){var t=document.getElementById('cands'),hd=t.tHead.rows[0],fr=t.tHead.insertRow(-1),"
    "ins=[];fr.className='filters';Array.prototype.forEach.call(hd.cells,function(h,i){var c=fr.insertCell(-1);"
    "if(i===0)return;var x=document.createElement('input');x.size=6;x.name=h.textContent.replace(/[^a-z0-9_]+/gi,"
    "'_').toLowerCase();x.placeholder='filter';c.appendChild(x);ins[i]=x;x.addEventListener('input',apply);});"
    "function match(v,f){if(!f)return true;var m=/^\\s*(-?[0-9.e+-]*)\\s*\\.\\.\\s*(-?[0-9.e+-]*)\\s*$/i.exec(f),"
    "n=parseFloat(v);if(m&&(m[1]||m[2]))return!isNaN(n)&&(!m[1]||n>=parseFloat(m[1]))&&(!m[2]||n<=parseFloat(m[2]));"
    "m=/^\\s*(<=|>=|<|>|=)\\s*(-?[0-9.e+-]+)\\s*$/.exec(f);if(m){var w=parseFloat(m[2]);if(isNaN(n))return false;"
    "return m[1]==='<'?n<w:m[1]==='>'?n>w:m[1]==='<='?n<=w:m[1]==='>='?n>=w:n===w;}"
    "return String(v).toLowerCase().indexOf(f.toLowerCase())>=0;}"
    "function apply(){var q=[],k=0;ins.forEach(function(x){if(x&&x.value)q.push(x.name+'='+encodeURIComponent(x.value));});"
    "history.replaceState(null,'',q.length?'#'+q.join('&'):location.pathname);"
    "Array.prototype.forEach.call(t.tBodies[0].rows,function(r){var ok=true;ins.forEach(function(x,i){"
    "if(x&&x.value){var c=r.cells[i],v=c.dataset.v!==undefined?c.dataset.v:c.textContent;ok=ok&&match(v,x.value);}});"
    "r.hidden=!ok;k+=ok?1:0;});document.getElementById('shown').textContent=k;}"
    "location.hash.replace(/^#/,'').split('&').forEach(function(p){var kv=p.split('=');ins.forEach(function(x){"
    "if(x&&x.name===kv[0])x.value=decodeURIComponent(kv[1]||'');});});apply();"
    "document.getElementById('compare').addEventListener('click',function(){var ids=Array.prototype.map.call("
    "t.querySelectorAll('td.pick input:checked'),function(x){return x.value;});"
    "location.href='compare.html#ids='+ids.join(',');});})();</script>";

static void index_page(struct site *s, const char *only_status, struct sbuf *out)
{
	size_t shown = 0;

	site_page_begin(out, only_status ? only_status : "candidates", "");
	sbuf_adds(out, "<h1>Candidates");
	if (only_status) {
		sbuf_adds(out, ": ");
		site_html(out, only_status);
	}
	sbuf_adds(out, "</h1>\n<p>");
	site_html(out, s->db);
	if (s->since > 1)
		sbuf_addf(out, " &middot; from candidate %lld on", s->since);
	sbuf_adds(out, "</p>\n<p>show: <a href=\"index.html\">all</a>");
	for (int i = 0; i < VERDICT_COUNT; i++)
		sbuf_addf(out, " &middot; <a href=\"index-%s.html\">%s</a>", verdict_table[i].name,
			  verdict_table[i].name);
	sbuf_adds(out, "</p>\n<p>download: <a href=\"candidates.csv\">CSV</a> &middot; <a href=\"candidates.json\">"
		       "JSON</a> &middot; <button id=compare type=button>compare the ticked</button> "
		       "<span class=dim>filter under each column head: text, or a range such as 1..3, &gt;0.5, "
		       "&lt;=2</span></p>\n");
	/* status, approval and the verdict's stage first: what a reviewer
	 * decides on; then the caller's columns */
	sbuf_adds(out, "<table class=list id=cands><thead><tr><th class=pick></th><th>id</th><th>status</th>"
		       "<th>approval</th><th>stage</th><th>architecture</th><th>gen</th><th>parent</th><th>fixes</th>"
		       "<th>parameters</th><th>held-out loss</th><th>final loss</th><th>loss</th>");
	for (size_t k = 0; k < s->user_keys->count; k++) {
		sbuf_adds(out, "<th>");
		site_html(out, s->user_keys->items[k]->s);
		sbuf_adds(out, "</th>");
	}
	sbuf_adds(out, "<th>torch</th></tr></thead><tbody>\n");
	for (size_t i = 0; i < s->rows->count; i++) {
		const struct json *r = s->rows->items[i], *um = json_get(r, "user_metrics");
		double id = 0, par = 0, gen = 0, fixes = 0;
		const char *st = json_get_str_or(r, "status", ""), *ap = json_get_str_or(r, "approval", "-");

		if (!site_included(s, r) || (only_status && strcmp(st, only_status)))
			continue;
		shown++;
		json_get_num(r, "id", &id);
		json_get_num(r, "generation", &gen);
		json_get_num(r, "fixes_applied", &fixes);
		sbuf_addf(out,
			  "<tr><td class=pick><input type=checkbox value=\"%.0f\" aria-label=\"pick %.0f\"></td>"
			  "<td data-v=\"%.0f\"><a href=\"c/%.0f.html\">%.0f</a></td><td data-v=\"",
			  id, id, id, id, id);
		site_html(out, st);
		sbuf_adds(out, "\">");
		site_status_span(out, st);
		if (cli_unverified(r))
			sbuf_adds(out, " <span class=warn>(unverified)</span>");
		sbuf_adds(out, "</td><td data-v=\"");
		site_html(out, ap);
		sbuf_adds(out, "\">");
		site_status_span(out, json_get_str(r, "approval") ? ap : NULL);
		sbuf_adds(out, "</td><td>");
		site_html(out, json_get_str_or(r, "stage", ""));
		sbuf_adds(out, "</td><td data-v=\"");
		site_html(out, json_get_str_or(r, "architecture_id", ""));
		sbuf_adds(out, "\">");
		site_html(out, json_get_str_or(r, "architecture_id", ""));
		sbuf_addf(out, "</td><td class=n data-v=\"%.0f\">%.0f</td>", gen, gen);
		if (json_get_num(r, "parent_id", &par))
			sbuf_addf(out, "<td class=n data-v=\"%.0f\"><a href=\"c/%.0f.html\">%.0f</a></td>", par, par, par);
		else
			sbuf_adds(out, "<td data-v=\"\">-</td>");
		sbuf_addf(out, "<td class=n data-v=\"%.0f\">%.0f</td>", fixes, fixes);
		site_num_cell(out, r, "parameters");
		site_num_cell(out, r, "heldout_loss");
		site_num_cell(out, r, "final_loss");
		sbuf_adds(out, "<td>");
		site_html(out, json_get_str_or(r, "loss", "-"));
		sbuf_adds(out, "</td>");
		for (size_t k = 0; k < s->user_keys->count; k++) {
			const struct json *v = um ? json_get(um, s->user_keys->items[k]->s) : NULL;

			if (v && v->type == JSON_NUMBER) {
				site_num_cell(out, um, s->user_keys->items[k]->s);
			} else {
				sbuf_adds(out, "<td>");
				if (v)
					html_value(out, v, 3);
				sbuf_adds(out, "</td>");
			}
		}
		sbuf_adds(out, "<td>");
		site_html(out, json_get_str_or(r, "torch", "-"));
		sbuf_adds(out, "</td></tr>\n");
	}
	sbuf_adds(out, "</tbody></table>\n");
	sbuf_addf(out, "<p class=dim><span id=shown>%zu</span> candidate(s).  Click a column head to sort.</p>\n",
		  shown);
	sbuf_adds(out, filter_js);
	site_page_end(out);
}

/* ---- a candidate's page -------------------------------------------------- */

static void check_table(struct sbuf *out, const struct json *checks)
{
	if (!checks || checks->type != JSON_OBJECT || !checks->count) {
		sbuf_adds(out, "<p class=dim>no checks ran (the build did not get as far)</p>\n");
		return;
	}
	sbuf_adds(out, "<table class=list><thead><tr><th>check</th><th>result</th><th>why</th></tr></thead><tbody>");
	for (size_t i = 0; i < checks->count; i++) {
		const char *st = json_get_str(checks->items[i], "status");

		sbuf_adds(out, "<tr><td>");
		site_html(out, checks->keys[i]);
		sbuf_adds(out, "</td><td>");
		site_status_span(out, st);
		sbuf_adds(out, "</td><td>");
		site_html(out, json_get_str(checks->items[i], "detail"));
		sbuf_adds(out, "</td></tr>");
	}
	sbuf_adds(out, "</tbody></table>\n");
}

/* What the archive verifier read (the validate child's word): the digest
 * of the bytes it passed, the operators they can run, and the archive's
 * own module tree, to read beside the code: the verdict is about the
 * archive, and the build child is the candidate. */
static void archive_section(struct sbuf *out, const struct json *a)
{
	const struct json *mods = json_get(a, "modules"), *ops = json_get(a, "operators");
	double v = 0;

	if (!a || a->type != JSON_OBJECT) {
		sbuf_adds(out, "<p class=dim>not verified (recorded before the archive verifier, or no archive)</p>\n");
		return;
	}
	if (!json_get_bool(a, "verified", false)) {
		sbuf_adds(out, "<p><b>refused by the archive verifier</b> (");
		site_html(out, json_get_str_or(a, "refused", "?"));
		sbuf_adds(out, "): nothing of it was loaded</p>\n");
		return;
	}
	json_get_num(a, "bytes", &v);
	sbuf_adds(out, "<p>verified by ");
	site_html(out, json_get_str_or(a, "verifier", "?"));
	sbuf_adds(out, ": SHA-256 <code>");
	site_html(out, json_get_str_or(a, "sha256", "?"));
	sbuf_addf(out, "</code>, %.0f bytes. Operators it can run:", v);
	for (size_t i = 0; ops && ops->type == JSON_ARRAY && i < ops->count; i++) {
		sbuf_adds(out, i ? ", " : " ");
		site_html(out, ops->items[i]->type == JSON_STRING ? ops->items[i]->s : "?");
	}
	sbuf_adds(out, "</p>\n");
	if (!mods || mods->type != JSON_ARRAY || !mods->count)
		return;
	sbuf_adds(out, "<table><tr><th>module</th><th>class</th><th>TorchScript type</th><th>parameters</th></tr>\n");
	for (size_t i = 0; i < mods->count; i++) {
		const struct json *m = mods->items[i], *ps = json_get(m, "parameters");

		static const char *const cols[] = {"path", "class", "type"};

		sbuf_adds(out, "<tr>");
		for (size_t k = 0; k < sizeof(cols) / sizeof(cols[0]); k++) {
			sbuf_adds(out, "<td>");
			site_html(out, json_get_str_or(m, cols[k], ""));
			sbuf_adds(out, "</td>");
		}
		sbuf_adds(out, "<td>");
		for (size_t j = 0; ps && ps->type == JSON_OBJECT && j < ps->count; j++) {
			const struct json *shape = ps->items[j];

			sbuf_adds(out, j ? "; " : "");
			site_html(out, ps->keys[j]);
			sbuf_adds(out, " [");
			for (size_t k = 0; shape && shape->type == JSON_ARRAY && k < shape->count; k++)
				sbuf_addf(out, "%s%.0f", k ? ", " : "", shape->items[k]->n);
			sbuf_adds(out, "]");
		}
		sbuf_adds(out, "</td></tr>\n");
	}
	sbuf_adds(out, "</table>\n");
}

static void sandbox_list(struct sbuf *out, const struct json *sb)
{
	const struct json *ns = json_get(sb, "namespaces");
	double v;

	if (!sb || sb->type != JSON_OBJECT) {
		sbuf_adds(out, "<p class=dim>not recorded</p>\n");
		return;
	}
	sbuf_adds(out, "<ul>");
	sbuf_addf(out, "<li>seccomp filter: %s</li>", json_get_bool(sb, "seccomp", false) ? "on" : "<b>off</b>");
	if (json_get_num(sb, "landlock_abi", &v) && v > 0)
		sbuf_addf(out, "<li>Landlock, ABI %.0f</li>", v);
	else
		sbuf_adds(out, "<li>Landlock: <b>not available</b></li>");
	sbuf_addf(out, "<li>no_new_privs: %s</li>",
		  json_get_bool(sb, "no_new_privs", false) ? "set" : "<b>not set</b>");
	if (json_get_num(sb, "uid", &v))
		sbuf_addf(out, "<li>uid %.0f, capabilities: ", v);
	site_html(out, json_get_str_or(sb, "capabilities", "?"));
	sbuf_addf(out, "</li><li>cgroup limits: %s</li><li>namespaces:",
		  json_get_bool(sb, "cgroup", false) ? "on" : "<b>off</b>");
	for (size_t i = 0; ns && ns->type == JSON_OBJECT && i < ns->count; i++)
		if (ns->items[i]->type == JSON_BOOL && ns->items[i]->b) {
			sbuf_addc(out, ' ');
			site_html(out, ns->keys[i]);
		}
	sbuf_adds(out, "</li></ul>\n");
}

static void candidate_page(struct site *s, const struct json *row, struct sbuf *out, char *err, size_t errlen)
{
	double id = 0, pid = 0;
	struct json *c, *parent = NULL;
	const struct json *e, *att, *m;
	char title[64];

	json_get_num(row, "id", &id);
	c = pool_get(s->pool, (long long)id, true, err, errlen);
	if (!c)
		return;
	if (json_get_num(c, "parent_id", &pid) && pid > 0)
		parent = pool_get(s->pool, (long long)pid, true, err, errlen);
	snprintf(title, sizeof(title), "candidate %.0f", id);
	site_page_begin(out, title, "../");
	sbuf_addf(out, "<h1>Candidate %.0f &middot; ", id);
	site_status_span(out, json_get_str_or(c, "status", ""));
	sbuf_adds(out, " <span class=dim>at ");
	site_html(out, json_get_str_or(c, "stage", ""));
	sbuf_adds(out, "</span></h1>\n");
	unverified_banner(out, c);
	sbuf_adds(out, "<table class=kv><tr><th>architecture</th><td>");
	site_html(out, json_get_str_or(c, "architecture_id", ""));
	sbuf_adds(out, "</td></tr><tr><th>lineage</th><td>");
	if (pid > 0)
		sbuf_addf(out, "child of <a href=\"%.0f.html\">#%.0f</a>, ", pid, pid);
	else
		sbuf_adds(out, "no parent, ");
	{
		double gen = 0;
		bool first = true;

		json_get_num(c, "generation", &gen);
		sbuf_addf(out, "generation %.0f", gen);
		for (size_t i = 0; i < s->rows->count; i++) {
			double cpid = 0, cid = 0;

			if (json_get_num(s->rows->items[i], "parent_id", &cpid) && cpid == id) {
				json_get_num(s->rows->items[i], "id", &cid);
				sbuf_addf(out, "%s<a href=\"%.0f.html\">#%.0f</a>", first ? "; children: " : ", ", cid,
					  cid);
				first = false;
			}
		}
	}
	sbuf_adds(out, "</td></tr><tr><th>recorded</th><td>");
	site_html(out, json_get_str_or(c, "created_at", ""));
	sbuf_adds(out, "</td></tr><tr><th>runtime</th><td>torch ");
	site_html(out, json_get_str_or(c, "torch", "?"));
	sbuf_adds(out, ", Python ");
	site_html(out, json_get_str_or(c, "python", "?"));
	sbuf_adds(out, ", ");
	site_html(out, json_get_str_or(c, "format", "?"));
	sbuf_adds(out, "</td></tr><tr><th>code SHA-256</th><td><code>");
	site_html(out, json_get_str_or(c, "code_sha256", ""));
	sbuf_adds(out, "</code></td></tr><tr><th>archive</th><td>");
	if (json_get_bool(c, "has_artifact", false)) {
		double b = 0;

		json_get_num(c, "artifact_bytes", &b);
		sbuf_addf(out, "%.1f MiB", b / 1048576.0);
	} else if (json_get_str(c, "artifact_pruned_at")) {
		sbuf_adds(out, "pruned by pool gc at ");
		site_html(out, json_get_str(c, "artifact_pruned_at"));
	} else {
		sbuf_adds(out, "none");
	}
	sbuf_adds(out, "</td></tr><tr><th>approval</th><td>");
	{
		bool any = false;

		for (size_t i = 0; s->approvals && i < s->approvals->count; i++) {
			const struct json *a = s->approvals->items[i];
			double aid = 0, acid = 0;

			json_get_num(a, "id", &aid);
			json_get_num(a, "candidate_id", &acid);
			if (acid != id)
				continue;
			sbuf_addf(out, "%s<a href=\"../a/%.0f.html\">request %.0f</a> ", any ? ", " : "", aid, aid);
			site_status_span(out, json_get_str(a, "state"));
			any = true;
		}
		if (!any)
			sbuf_adds(out, "<span class=dim>no request</span>");
	}
	sbuf_adds(out, "</td></tr></table>\n");

	e = json_get(c, "error");
	if (e && e->type == JSON_OBJECT) {
		double line = 0;

		sbuf_adds(out, "<h2>Why not accepted</h2>\n<p><b>");
		site_html(out, json_get_str_or(e, "type", "error"));
		sbuf_adds(out, "</b>");
		if (json_get_num(e, "line", &line) && line > 0)
			sbuf_addf(out, " at line %.0f", line);
		sbuf_adds(out, ": <span class=pre>");
		site_html(out, json_get_str_or(e, "message", ""));
		sbuf_adds(out, "</span></p>\n");
		if (json_get_str(e, "hint")) {
			sbuf_adds(out, "<p class=dim>");
			site_html(out, json_get_str(e, "hint"));
			sbuf_adds(out, "</p>\n");
		}
		if (json_get_str(e, "traceback") && *json_get_str(e, "traceback")) {
			sbuf_adds(out, "<details><summary>traceback</summary>");
			code_block(out, json_get_str(e, "traceback"), true);
			sbuf_adds(out, "</details>\n");
		}
	}

	sbuf_adds(out, "<h2>Checks</h2>\n");
	check_table(out, json_get(c, "checks"));
	sbuf_adds(out, "<h2>Training loss</h2>\n");
	loss_svg(out, c, parent, (long long)pid);
	m = json_get(c, "metrics");
	sbuf_adds(out, "<h2>Metrics</h2>\n");
	html_value(out, m, 0);
	if (json_get(c, "user_metrics") && json_get(c, "user_metrics")->count) {
		sbuf_adds(out, "<h2>The caller's metrics</h2>\n");
		html_value(out, json_get(c, "user_metrics"), 0);
	}
	sbuf_adds(out, "<h2>The archive, as the verifier read it</h2>\n");
	archive_section(out, json_get(c, "archive"));
	sbuf_adds(out, "<h2>Sandbox layers that held</h2>\n");
	sandbox_list(out, json_get(c, "sandbox"));
	{
		const struct json *w = json_get(c, "warnings"), *v = json_get(c, "violations");

		if (v && v->type == JSON_ARRAY && v->count) {
			sbuf_adds(out, "<h2>Violations</h2>\n<ul>");
			for (size_t i = 0; i < v->count; i++) {
				sbuf_adds(out, "<li><b>");
				site_html(out, json_get_str_or(v->items[i], "rule", ""));
				sbuf_adds(out, "</b>: ");
				site_html(out, json_get_str_or(v->items[i], "message", json_get_str_or(v->items[i], "event", "")));
				sbuf_adds(out, "</li>");
			}
			sbuf_adds(out, "</ul>\n");
		}
		if (w && w->type == JSON_ARRAY && w->count) {
			sbuf_adds(out, "<h2>Static findings (warnings: the code ran)</h2>\n<ul>");
			for (size_t i = 0; i < w->count; i++) {
				double l = 0, col = 0;

				json_get_num(w->items[i], "line", &l);
				json_get_num(w->items[i], "col", &col);
				sbuf_addf(out, "<li>line %.0f:%.0f ", l, col);
				site_html(out, json_get_str_or(w->items[i], "message", ""));
				sbuf_adds(out, "</li>");
			}
			sbuf_adds(out, "</ul>\n");
		}
	}
	sbuf_adds(out, "<h2>Code as submitted</h2>\n");
	code_block(out, json_get_str(c, "code"), false);
	att = json_get(c, "attempts");
	{
		bool any = false;

		for (size_t i = 0; att && att->type == JSON_ARRAY && i < att->count; i++) {
			const char *d = json_get_str(att->items[i], "diff");
			const struct json *fx = json_get(att->items[i], "fixes");

			if (!d || !*d)
				continue;
			if (!any)
				sbuf_adds(out, "<h2>The debug loop's fixes</h2>\n");
			any = true;
			sbuf_addf(out, "<p>after attempt %zu:", i + 1);
			for (size_t k = 0; fx && fx->type == JSON_ARRAY && k < fx->count; k++) {
				sbuf_adds(out, k ? "; " : " ");
				site_html(out, json_get_str_or(fx->items[k], "description", json_get_str_or(fx->items[k], "rule", "")));
			}
			sbuf_adds(out, "</p>\n");
			code_block(out, d, true);
		}
		if (any) {
			sbuf_adds(out, "<h2>Code that ran (after the fixes)</h2>\n");
			code_block(out, json_get_str(c, "final_code"), false);
		}
	}
	if (parent) {
		char pa[64], na[64], *d;

		snprintf(pa, sizeof(pa), "candidate-%.0f.py", pid);
		snprintf(na, sizeof(na), "candidate-%.0f.py", id);
		d = diff_unified(json_get_str_or(parent, "final_code", ""), json_get_str_or(c, "final_code", ""), pa, na, 3);
		sbuf_addf(out, "<h2>Against the parent, <a href=\"%.0f.html\">#%.0f</a></h2>\n", pid, pid);
		if (*d)
			code_block(out, d, true);
		else
			sbuf_adds(out, "<p class=dim>the same code</p>\n");
		free(d);
	}
	for (int k = 0; k < 2; k++) {
		const char *o = json_get_str(c, k ? "stderr" : "stdout");

		if (o && *o) {
			sbuf_addf(out, "<h2>%s</h2>\n", k ? "Standard error" : "Standard output");
			code_block(out, o, true);
		}
	}
	site_page_end(out);
	json_free(parent);
	json_free(c);
}

/* ---- approvals ----------------------------------------------------------- */

static bool same_json(const struct json *a, const struct json *b)
{
	struct sbuf x = SBUF_INIT, y = SBUF_INIT;
	bool same;

	json_write(a, &x, -1);
	json_write(b, &y, -1);
	same = x.len == y.len && !memcmp(sbuf_str(&x), sbuf_str(&y), x.len);
	sbuf_release(&x);
	sbuf_release(&y);
	return same;
}

/* S quoted for a POSIX shell. */
static void shell_quote(struct sbuf *out, const char *s)
{
	sbuf_addc(out, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			sbuf_adds(out, "'\\''");
		else
			sbuf_addc(out, *s);
	}
	sbuf_addc(out, '\'');
}

static void approvals_index(struct site *s, struct sbuf *out)
{
	site_page_begin(out, "approvals", "");
	sbuf_adds(out, "<h1>Approval requests</h1>\n<table class=list><thead><tr><th>request</th><th>state</th>"
		       "<th>candidate</th><th>requested</th><th>title</th></tr></thead><tbody>\n");
	for (size_t i = 0; s->approvals && i < s->approvals->count; i++) {
		const struct json *a = s->approvals->items[i];
		double aid = 0, cid = 0;

		json_get_num(a, "id", &aid);
		json_get_num(a, "candidate_id", &cid);
		sbuf_addf(out, "<tr><td data-v=\"%.0f\"><a href=\"a/%.0f.html\">%.0f</a></td><td>", aid, aid, aid);
		site_status_span(out, json_get_str(a, "state"));
		sbuf_addf(out, "</td><td data-v=\"%.0f\"><a href=\"c/%.0f.html\">%.0f</a></td><td>", cid, cid, cid);
		site_html(out, json_get_str_or(a, "requested_at", ""));
		sbuf_adds(out, "</td><td>");
		site_html(out, json_get_str_or(a, "title", ""));
		sbuf_adds(out, "</td></tr>\n");
	}
	sbuf_adds(out, "</tbody></table>\n");
	site_page_end(out);
}

static void approval_page(struct site *s, const struct json *summary, struct sbuf *out, char *err, size_t errlen)
{
	double aid = 0, cid = 0;
	struct json *a;
	const struct json *dec, *risk, *sb;
	char title[64];

	json_get_num(summary, "id", &aid);
	a = pool_approval_get(s->pool, (long long)aid, err, errlen);
	if (!a)
		return;
	json_get_num(a, "candidate_id", &cid);
	snprintf(title, sizeof(title), "approval request %.0f", aid);
	site_page_begin(out, title, "../");
	sbuf_addf(out, "<h1>Approval request %.0f &middot; ", aid);
	site_status_span(out, json_get_str(a, "state"));
	sbuf_adds(out, "</h1>\n<h2>");
	site_html(out, json_get_str_or(a, "title", ""));
	sbuf_addf(out, "</h2>\n<p>for <a href=\"../c/%.0f.html\">candidate %.0f</a> (", cid, cid);
	site_html(out, json_get_str_or(a, "architecture_id", ""));
	sbuf_adds(out, "), requested ");
	site_html(out, json_get_str_or(a, "requested_at", ""));
	sbuf_adds(out, "</p>\n");
	unverified_banner(out, a);
	sbuf_adds(out, "<p class=pre>");
	site_html(out, json_get_str_or(a, "description", ""));
	sbuf_adds(out, "</p>\n<h2>Decisions</h2>\n");
	dec = json_get(a, "decisions");
	if (!dec || !dec->count) {
		sbuf_adds(out, "<p class=dim>none yet</p>\n");
	} else {
		sbuf_adds(out, "<table class=list><thead><tr><th>when</th><th>decision</th><th>reviewer</th>"
			       "<th>signature</th><th>comment</th></tr></thead><tbody>");
		for (size_t i = 0; i < dec->count; i++) {
			sbuf_adds(out, "<tr><td>");
			site_html(out, json_get_str_or(dec->items[i], "decided_at", ""));
			sbuf_adds(out, "</td><td>");
			site_status_span(out, json_get_str(dec->items[i], "decision"));
			sbuf_adds(out, "</td><td>");
			site_html(out, json_get_str_or(dec->items[i], "reviewer", ""));
			sbuf_adds(out, "</td><td>");
			/* what the reviewers file says of it, not what the row says */
			site_status_span(out, json_get_str(dec->items[i], "signature"));
			if (json_get_str(dec->items[i], "signed_by")) {
				sbuf_adds(out, " by ");
				site_html(out, json_get_str(dec->items[i], "signed_by"));
			}
			sbuf_adds(out, "</td><td>");
			site_html(out, json_get_str_or(dec->items[i], "comment", ""));
			sbuf_adds(out, "</td></tr>");
		}
		sbuf_adds(out, "</tbody></table>\n");
	}
	if (!strcmp(json_get_str_or(a, "state", ""), "forged") || !strcmp(json_get_str_or(a, "state", ""), "untrusted")) {
		sbuf_adds(out, "<p class=forged>The pool records this request as ");
		site_html(out, json_get_str_or(a, "recorded_state", "?"));
		sbuf_adds(out, ", but no reviewer of the reviewers file signed an approval of these archive bytes: "
			       "'pool export' refuses it.</p>\n");
	}
	if (!strcmp(json_get_str_or(a, "state", ""), "pending")) {
		struct sbuf cmd = SBUF_INIT;

		sbuf_adds(out, "<h2>Decide (in the command line, which keeps the append-only trail)</h2>\n");
		sbuf_addf(&cmd, "aegis-sandbox approvals approve %.0f --db ", aid);
		shell_quote(&cmd, s->db);
		sbuf_adds(&cmd, " --comment 'why'\n");
		sbuf_addf(&cmd, "aegis-sandbox approvals reject %.0f --db ", aid);
		shell_quote(&cmd, s->db);
		sbuf_adds(&cmd, " --comment 'why'\n");
		sbuf_adds(out, "<pre>");
		site_html(out, sbuf_str(&cmd));
		sbuf_adds(out, "</pre>\n");
		sbuf_release(&cmd);
	}
	risk = json_get(a, "risk_assessment");
	sb = json_get(a, "sandbox_assessment");
	sbuf_adds(out, "<h2>Risk assessment (the requester's)</h2>\n");
	html_value(out, risk, 0);
	if (sb && !same_json(sb, risk)) {
		sbuf_adds(out, "<h2>The sandbox's own assessment</h2>\n");
		html_value(out, sb, 0);
	}
	{
		const char *d = json_get_str(a, "diff_against_parent");

		sbuf_adds(out, "<h2>Changes against the parent</h2>\n");
		if (d && *d)
			code_block(out, d, true);
		else
			sbuf_adds(out, "<p class=dim>the same code</p>\n");
	}
	site_page_end(out);
	json_free(a);
}

/* ---- lineage ------------------------------------------------------------- */

const char *site_status_color(const char *st)
{
	if (!st)
		return "#888";
	if (!strcmp(st, "accepted"))
		return "#176f2c";
	if (!strcmp(st, "rejected"))
		return "#b3261e";
	if (!strcmp(st, "violation"))
		return "#6f1a8a";
	return "#8a5a00";
}

/* dot(1), when it is installed: DOT in, SVG out.  Only numbers and our own
 * words go into the graph, never a candidate's string.  0 or -1. */
static int run_dot(const char *dir, struct sbuf *svg)
{
	char *in = xasprintf("%s/.lineage.dot", dir), *outp = xasprintf("%s/.lineage.svg", dir);
	char *argv[] = {"dot", "-Tsvg", "-o", outp, in, NULL};
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st = -1, rc = -1;
	char *buf = NULL;
	size_t len = 0;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (getenv("AEGIS_NO_DOT") == NULL && posix_spawnp(&pid, "dot", &fa, NULL, argv, environ) == 0 &&
	    waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0 &&
	    util_read_file(outp, 64u << 20, &buf, &len) == 0) {
		const char *s = strstr(buf, "<svg");

		if (s) {
			sbuf_add(svg, s, len - (size_t)(s - buf));
			rc = 0;
		}
	}
	posix_spawn_file_actions_destroy(&fa);
	free(buf);
	unlink(outp);
	free(in);
	free(outp);
	return rc;
}

/* NAME as a label: letters, digits and . _ - kept, anything else '?',
 * at most OUTLEN - 1 characters. */
static void safe_label(const char *name, char *out, size_t outlen)
{
	size_t n = 0;

	for (; name && *name && n + 1 < outlen; name++)
		out[n++] = (isalnum((unsigned char)*name) || strchr("._-", *name)) ? *name : '?';
	out[n] = '\0';
}

static void lineage_page(struct site *s, struct sbuf *out, char *err, size_t errlen)
{
	struct sbuf dot = SBUF_INIT, svg = SBUF_INIT;
	char *dotpath = xasprintf("%s/.lineage.dot", s->dir);
	bool drawn = false;
	size_t n = 0;

	(void)err;
	(void)errlen;
	sbuf_adds(&dot, "digraph lineage {\n rankdir=TB; node [shape=box, style=\"rounded,filled\", fillcolor=white, "
			"fontname=\"sans-serif\", fontsize=11];\n");
	for (size_t i = 0; i < s->rows->count; i++) {
		const struct json *r = s->rows->items[i];
		const char *st = json_get_str(r, "status");
		double id = 0, par = 0;

		if (!site_included(s, r))
			continue;
		n++;
		json_get_num(r, "id", &id);
		/* numbers, a status word of ours, and the name cut to letters,
		 * digits and . _ - (nothing dot or SVG would read as syntax) */
		{
			char name[32], val[48] = "";
			double v;

			safe_label(json_get_str_or(r, "architecture_id", ""), name, sizeof(name));
			if (site_metric(r, s->metric, &v) && isfinite(v))
				snprintf(val, sizeof(val), "\\n%.12s %.4g", s->metric, v);
			sbuf_addf(&dot, " c%.0f [label=\"#%.0f %s\\n%s%s\", color=\"%s\", URL=\"c/%.0f.html\"];\n", id, id,
				  name,
				  st && !strcmp(st, "accepted")   ? "accepted"
				  : st && !strcmp(st, "rejected") ? "rejected"
								  : "other",
				  val, site_status_color(st), id);
		}
		if (json_get_num(r, "parent_id", &par))
			sbuf_addf(&dot, " c%.0f -> c%.0f;\n", par, id);
	}
	sbuf_adds(&dot, "}\n");
	if (util_write_file(dotpath, dot.buf, dot.len, 0644) == 0 && n && n <= 2000)
		drawn = run_dot(s->dir, &svg) == 0;
	unlink(dotpath);
	free(dotpath);
	sbuf_release(&dot);
	site_page_begin(out, "lineage", "");
	sbuf_addf(out, "<h1>Lineage</h1>\n<p class=dim>%zu candidate(s); a click opens one.  Drawn by %s.</p>\n", n,
		  drawn ? "graphviz's dot" : "aegis-sandbox's own layout (graphviz's dot is not installed)");
	if (drawn) {
		sbuf_add(out, svg.buf, svg.len);
	} else {
		/* our own: one row per generation, candidates in id order */
		double maxgen = 0, per_row[256] = {0}, placed[256] = {0};
		const double BW = 130, BH = 34, GX = 20, GY = 50;
		double width = 0;

		for (size_t i = 0; i < s->rows->count; i++) {
			double g = 0;

			if (!site_included(s, s->rows->items[i]))
				continue;
			json_get_num(s->rows->items[i], "generation", &g);
			g = g < 0 ? 0 : g > 255 ? 255 : g;
			per_row[(int)g]++;
			maxgen = fmax(maxgen, g);
		}
		for (int g = 0; g <= (int)maxgen; g++)
			width = fmax(width, per_row[g] * (BW + GX) + GX);
		sbuf_addf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\">", width,
			  (maxgen + 1) * (BH + GY) + GY);
		/* positions first, for the edges */
		{
			double *xs = xcalloc(s->rows->count, sizeof(double)),
			       *ys = xcalloc(s->rows->count, sizeof(double));

			for (size_t i = 0; i < s->rows->count; i++) {
				double g = 0;

				if (!site_included(s, s->rows->items[i]))
					continue;
				json_get_num(s->rows->items[i], "generation", &g);
				g = g < 0 ? 0 : g > 255 ? 255 : g;
				xs[i] = GX + placed[(int)g]++ * (BW + GX);
				ys[i] = GY / 2 + g * (BH + GY);
			}
			for (size_t i = 0; i < s->rows->count; i++) {
				double par = 0;

				if (!site_included(s, s->rows->items[i]) ||
				    !json_get_num(s->rows->items[i], "parent_id", &par))
					continue;
				for (size_t j = 0; j < s->rows->count; j++) {
					double id = 0;

					json_get_num(s->rows->items[j], "id", &id);
					if (id == par && site_included(s, s->rows->items[j]))
						sbuf_addf(out,
							  "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" "
							  "stroke=\"#999\"/>",
							  xs[j] + BW / 2, ys[j] + BH, xs[i] + BW / 2, ys[i]);
				}
			}
			for (size_t i = 0; i < s->rows->count; i++) {
				double id = 0;
				const char *st = json_get_str(s->rows->items[i], "status");

				if (!site_included(s, s->rows->items[i]))
					continue;
				json_get_num(s->rows->items[i], "id", &id);
				{
					char name[20], val[48] = "";
					double v;

					safe_label(json_get_str_or(s->rows->items[i], "architecture_id", ""), name, sizeof(name));
					if (site_metric(s->rows->items[i], s->metric, &v) && isfinite(v))
						snprintf(val, sizeof(val), "%.4g", v);
					sbuf_addf(out,
						  "<a href=\"c/%.0f.html\"><rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" "
						  "height=\"%.0f\" rx=\"6\" fill=\"white\" stroke=\"%s\" stroke-width=\"2\"/>"
						  "<text x=\"%.0f\" y=\"%.0f\" font-size=\"11\" text-anchor=\"middle\">#%.0f %s"
						  "</text><text x=\"%.0f\" y=\"%.0f\" font-size=\"10\" text-anchor=\"middle\" "
						  "fill=\"#555\">%s</text></a>",
						  id, xs[i], ys[i], BW, BH, site_status_color(st), xs[i] + BW / 2, ys[i] + 14, id,
						  name, xs[i] + BW / 2, ys[i] + 28, val);
				}
			}
			free(xs);
			free(ys);
		}
		sbuf_adds(out, "</svg>\n");
	}
	sbuf_adds(out, "<p><span style=\"color:#176f2c\">&#9632;</span> accepted &nbsp; "
		       "<span style=\"color:#b3261e\">&#9632;</span> rejected &nbsp; "
		       "<span style=\"color:#6f1a8a\">&#9632;</span> violation &nbsp; "
		       "<span style=\"color:#8a5a00\">&#9632;</span> other</p>\n");
	site_page_end(out);
	sbuf_release(&svg);
}

/* ---- the site ------------------------------------------------------------ */

#define MARKER ".aegis-sandbox-report"

/* DIR: created when missing; an existing one must be empty or an earlier
 * report (its marker file), so that no one's files are overwritten. */
static int prepare_dir(const char *dir, char *err, size_t errlen)
{
	char *marker = xasprintf("%s/" MARKER, dir), *sub;
	int rc = 0;

	if (util_mkdir_parents(marker) < 0) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		rc = -1;
	} else if (access(marker, F_OK) != 0) {
		DIR *d = opendir(dir);
		struct dirent *e;
		bool empty = true;

		while (d && (e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				empty = false;
		if (d)
			closedir(d);
		if (!empty) {
			snprintf(err, errlen, "%s is not empty and holds no earlier report: give a new directory", dir);
			rc = -1;
		} else if (util_write_file(marker, "aegis-sandbox pool report\n", 26, 0644) < 0) {
			snprintf(err, errlen, "cannot write in %s: %s", dir, strerror(errno));
			rc = -1;
		}
	}
	for (int i = 0; rc == 0 && i < 2; i++) {
		sub = xasprintf("%s/%s", dir, i ? "a" : "c");
		if (mkdir(sub, 0755) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "cannot create %s: %s", sub, strerror(errno));
			rc = -1;
		}
		free(sub);
	}
	free(marker);
	return rc;
}

struct json *report_html(struct pool *pool, const char *db, const char *dir, long long since, const char *metric,
			 char *err, size_t errlen)
{
	struct site s = {.dir = dir, .db = db, .since = since, .pool = pool, .metric = metric ? metric : "heldout_loss"};
	struct sbuf page = SBUF_INIT;
	struct json *doc = NULL;
	size_t ncand = 0, nappr = 0;

	if (prepare_dir(dir, err, errlen) < 0)
		return NULL;
	s.rows = pool_list(pool, NULL, -1, NULL, err, errlen);
	s.approvals = s.rows ? pool_approvals(pool, NULL, err, errlen) : NULL;
	if (!s.rows || !s.approvals)
		goto out;
	collect_user_keys(&s);
	index_page(&s, NULL, &page);
	if (write_page(dir, "index.html", &page, err, errlen) < 0)
		goto out;
	for (int i = 0; i < VERDICT_COUNT; i++) {
		char name[64];

		index_page(&s, verdict_table[i].name, &page);
		snprintf(name, sizeof(name), "index-%s.html", verdict_table[i].name);
		if (write_page(dir, name, &page, err, errlen) < 0)
			goto out;
	}
	for (size_t i = 0; i < s.rows->count; i++) {
		double id = 0;
		char name[64];

		if (!site_included(&s, s.rows->items[i]))
			continue;
		json_get_num(s.rows->items[i], "id", &id);
		*err = '\0';
		candidate_page(&s, s.rows->items[i], &page, err, errlen);
		if (*err && !page.len)
			goto out;
		snprintf(name, sizeof(name), "c/%.0f.html", id);
		if (write_page(dir, name, &page, err, errlen) < 0)
			goto out;
		ncand++;
	}
	approvals_index(&s, &page);
	if (write_page(dir, "approvals.html", &page, err, errlen) < 0)
		goto out;
	for (size_t i = 0; i < s.approvals->count; i++) {
		double id = 0, cid = 0;
		char name[64];

		json_get_num(s.approvals->items[i], "id", &id);
		json_get_num(s.approvals->items[i], "candidate_id", &cid);
		if ((long long)cid < since)
			continue;
		*err = '\0';
		approval_page(&s, s.approvals->items[i], &page, err, errlen);
		if (*err && !page.len)
			goto out;
		snprintf(name, sizeof(name), "a/%.0f.html", id);
		if (write_page(dir, name, &page, err, errlen) < 0)
			goto out;
		nappr++;
	}
	lineage_page(&s, &page, err, errlen);
	if (write_page(dir, "lineage.html", &page, err, errlen) < 0 || review_pages(&s, err, errlen) < 0)
		goto out;
	doc = json_object();
	json_set(doc, "dir", json_str(dir));
	{
		char *index = xasprintf("%s/index.html", dir);

		json_set(doc, "index", json_str(index));
		free(index);
	}
	json_set(doc, "candidates", json_num((double)ncand));
	json_set(doc, "approvals", json_num((double)nappr));
out:
	sbuf_release(&page);
	json_free(s.rows);
	json_free(s.approvals);
	json_free(s.user_keys);
	return doc;
}
