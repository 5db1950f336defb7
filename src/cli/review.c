/* review.c - the review site's views for choosing among a generation:
 * compare.html (two or more candidates side by side: metrics, code diff,
 * loss curves overlaid), generations.html (each metric over the
 * generations, best and all, in SVG) and the table as candidates.csv and
 * candidates.json.  The pages are static; compare.html draws from data it
 * carries (JSON in a data block, every '<' escaped) with DOM text nodes
 * only, never markup made from a candidate's strings. */
#include "config.h"

#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/site.h"
#include "common/util.h"

bool site_metric(const struct json *r, const char *metric, double *v)
{
	const struct json *um = json_get(r, "user_metrics"), *m = json_get(r, "metrics");

	return (um && json_get_num(um, metric, v)) || json_get_num(r, metric, v) || (m && json_get_num(m, metric, v));
}

bool site_lower_is_better(const char *metric)
{
	/* the client's rule (CodePool.get_top_k) */
	regex_t re;
	bool lower;

	if (regcomp(&re, "loss|error|perplexity|ppl|time|latency|memory|parameters", REG_EXTENDED | REG_ICASE | REG_NOSUB))
		return true;
	lower = regexec(&re, metric, 0, NULL, 0) == 0;
	regfree(&re);
	return lower;
}

static int write_file(const struct site *s, const char *name, const struct sbuf *b, char *err, size_t errlen)
{
	char *path = xasprintf("%s/%s", s->dir, name);
	int e = util_write_file(path, b->buf ? b->buf : "", b->len, 0644);

	if (e < 0)
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(-e));
	free(path);
	return e < 0 ? -1 : 0;
}

/* ---- candidates.csv, candidates.json -------------------------------------- */

/* One CSV field: quoted; a text that a spreadsheet would run as a formula
 * (= + - @ first) gets a leading apostrophe. */
static void csv_str(struct sbuf *b, const char *v)
{
	sbuf_addc(b, '"');
	if (v && *v && strchr("=+-@\t\r", *v))
		sbuf_addc(b, '\'');
	for (; v && *v; v++) {
		if (*v == '"')
			sbuf_addc(b, '"');
		sbuf_addc(b, *v);
	}
	sbuf_addc(b, '"');
}

static void csv_num(struct sbuf *b, const struct json *o, const char *k)
{
	double v;

	if (o && json_get_num(o, k, &v) && isfinite(v))
		sbuf_addf(b, "%.10g", v);
}

static int data_files(struct site *s, char *err, size_t errlen)
{
	static const char *const text[] = {"status", "approval", "stage", "architecture_id"};
	static const char *const nums[] = {"generation", "parent_id", "fixes_applied", "parameters", "heldout_loss",
					   "final_loss"};
	struct sbuf csv = SBUF_INIT, js = SBUF_INIT;
	struct json *rows = json_array();
	int rc;

	sbuf_adds(&csv, "id");
	for (size_t k = 0; k < sizeof(text) / sizeof(text[0]); k++)
		sbuf_addf(&csv, ",%s", text[k]);
	for (size_t k = 0; k < sizeof(nums) / sizeof(nums[0]); k++)
		sbuf_addf(&csv, ",%s", nums[k]);
	sbuf_adds(&csv, ",loss,torch");
	for (size_t k = 0; k < s->user_keys->count; k++) {
		sbuf_addc(&csv, ',');
		csv_str(&csv, s->user_keys->items[k]->s);
	}
	sbuf_adds(&csv, "\r\n");
	for (size_t i = 0; i < s->rows->count; i++) {
		const struct json *r = s->rows->items[i], *um = json_get(r, "user_metrics");

		if (!site_included(s, r))
			continue;
		json_append(rows, json_dup(r));
		csv_num(&csv, r, "id");
		for (size_t k = 0; k < sizeof(text) / sizeof(text[0]); k++) {
			sbuf_addc(&csv, ',');
			csv_str(&csv, json_get_str(r, text[k]));
		}
		for (size_t k = 0; k < sizeof(nums) / sizeof(nums[0]); k++) {
			sbuf_addc(&csv, ',');
			csv_num(&csv, r, nums[k]);
		}
		sbuf_addc(&csv, ',');
		csv_str(&csv, json_get_str(r, "loss"));
		sbuf_addc(&csv, ',');
		csv_str(&csv, json_get_str(r, "torch"));
		for (size_t k = 0; k < s->user_keys->count; k++) {
			const struct json *v = um ? json_get(um, s->user_keys->items[k]->s) : NULL;

			sbuf_addc(&csv, ',');
			if (v && v->type == JSON_NUMBER)
				csv_num(&csv, um, s->user_keys->items[k]->s);
			else if (v && v->type == JSON_STRING)
				csv_str(&csv, v->s);
		}
		sbuf_adds(&csv, "\r\n");
	}
	json_write(rows, &js, 2);
	sbuf_addc(&js, '\n');
	rc = write_file(s, "candidates.csv", &csv, err, errlen) < 0 || write_file(s, "candidates.json", &js, err, errlen) < 0
		 ? -1
		 : 0;
	json_free(rows);
	sbuf_release(&csv);
	sbuf_release(&js);
	return rc;
}

/* ---- generations.html ----------------------------------------------------- */

/* Whether row R is a point of METRIC's chart: an accepted candidate of the
 * site with a finite value; its generation and value into *G and *V. */
static bool chart_point(const struct site *s, const struct json *r, const char *metric, double *g, double *v)
{
	*g = 0;
	if (!site_included(s, r) || strcmp(json_get_str_or(r, "status", ""), "accepted") || !site_metric(r, metric, v) ||
	    !isfinite(*v))
		return false;
	json_get_num(r, "generation", g);
	return true;
}

/* One chart: METRIC of every candidate that has it (a dot, linked to its
 * page) over its generation, and the best so far (a line). */
static void generation_chart(struct site *s, const char *metric, struct sbuf *out)
{
	const double W = 720, H = 260, L = 64, R = 16, T = 12, B = 34;
	bool lower = site_lower_is_better(metric);
	double gmax = 0, lo = INFINITY, hi = -INFINITY;
	size_t n = 0;

	for (size_t i = 0; i < s->rows->count; i++) {
		double v, g;

		if (!chart_point(s, s->rows->items[i], metric, &g, &v))
			continue;
		gmax = fmax(gmax, g);
		lo = fmin(lo, v);
		hi = fmax(hi, v);
		n++;
	}
	sbuf_adds(out, "<h2>");
	site_html(out, metric);
	sbuf_addf(out, " <span class=dim>(%s is better; accepted candidates)</span></h2>\n", lower ? "lower" : "higher");
	if (!n) {
		sbuf_adds(out, "<p class=dim>no accepted candidate has it</p>\n");
		return;
	}
	if (hi == lo) {
		hi += 0.5;
		lo -= 0.5;
	}
	if (gmax < 1)
		gmax = 1;
#define X(g) (L + (g) / gmax * (W - L - R))
#define Y(v) (T + (hi - (v)) / (hi - lo) * (H - T - B))
	sbuf_addf(out, "<svg class=chart xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" role=img>", W,
		  H);
	sbuf_addf(out, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#999\"/>", L, H - B, W - R, H - B);
	sbuf_addf(out, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#999\"/>", L, T, L, H - B);
	for (int k = 0; k <= 4; k++) {
		double v = lo + (hi - lo) * k / 4;

		sbuf_addf(out, "<text x=\"%.0f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%.4g</text>", L - 4,
			  Y(v) + 4, v);
	}
	for (double g = 0; g <= gmax; g += gmax > 20 ? ceil(gmax / 20) : 1)
		sbuf_addf(out, "<text x=\"%.1f\" y=\"%.0f\" font-size=\"11\" text-anchor=\"middle\">%.0f</text>", X(g),
			  H - B + 16, g);
	sbuf_addf(out, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"11\" text-anchor=\"middle\">generation</text>",
		  (L + W - R) / 2, H - 4);
	{
		/* the best so far, generation by generation */
		double best = lower ? INFINITY : -INFINITY;
		struct sbuf pts = SBUF_INIT;

		for (long g = 0; g <= (long)gmax; g++) {
			for (size_t i = 0; i < s->rows->count; i++) {
				double v, rg;

				if (chart_point(s, s->rows->items[i], metric, &rg, &v) && (long)rg == g)
					best = lower ? fmin(best, v) : fmax(best, v);
			}
			if (isfinite(best))
				sbuf_addf(&pts, "%.1f,%.1f ", X((double)g), Y(best));
		}
		sbuf_addf(out, "<polyline class=best fill=\"none\" stroke=\"#176f2c\" stroke-width=\"2\" points=\"%s\"/>",
			  sbuf_str(&pts));
		sbuf_release(&pts);
	}
	for (size_t i = 0; i < s->rows->count; i++) {
		const struct json *r = s->rows->items[i];
		double v, g, id = 0;

		if (!chart_point(s, r, metric, &g, &v))
			continue;
		json_get_num(r, "id", &id);
		sbuf_addf(out,
			  "<a href=\"c/%.0f.html\"><circle class=cand cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"#0550ae\" "
			  "fill-opacity=\"0.6\"><title>#%.0f ",
			  id, X(g), Y(v), id);
		site_html(out, json_get_str_or(r, "architecture_id", ""));
		sbuf_addf(out, ": %.6g</title></circle></a>", v);
	}
#undef X
#undef Y
	sbuf_adds(out, "</svg>\n");
}

static void generations_page(struct site *s, struct sbuf *out)
{
	static const char *const own[] = {"heldout_loss", "final_loss", "parameters"};

	site_page_begin(out, "metrics over generations", "");
	sbuf_adds(out, "<h1>Metrics over generations</h1>\n<p class=dim>Each dot is an accepted candidate (a click "
		       "opens it); the line is the best so far.</p>\n");
	for (size_t k = 0; k < s->user_keys->count; k++)
		generation_chart(s, s->user_keys->items[k]->s, out);
	for (size_t k = 0; k < sizeof(own) / sizeof(own[0]); k++) {
		bool theirs = false;

		for (size_t j = 0; j < s->user_keys->count; j++)
			theirs |= !strcmp(s->user_keys->items[j]->s, own[k]);
		if (!theirs)
			generation_chart(s, own[k], out);
	}
	site_page_end(out);
}

/* ---- compare.html ----------------------------------------------------------- */

/* The page's script: reads #ids=1,2,3 (or the boxes ticked on the index),
 * and draws from the data block with text nodes only. */
static const char compare_js[] =
    "<script>(function(){"
    "var D=JSON.parse(document.getElementById('data').textContent),by={};D.forEach(function(c){by[c.id]=c;});"
    "function el(t,txt,cls){var e=document.createElement(t);if(txt!==undefined)e.textContent=String(txt);"
    "if(cls)e.className=cls;return e;}"
    "function ids(){var m=/ids=([0-9,]+)/.exec(location.hash);return m?m[1].split(',').filter(function(x){"
    "return by[x];}):[];}"
    "function diff(a,b){a=a.split('\\n');b=b.split('\\n');if(a.length*b.length>4e6)return null;"
    "var n=a.length,m=b.length,L=[];for(var i=0;i<=n;i++){L.push(new Int32Array(m+1));}"
    "for(i=n-1;i>=0;i--)for(var j=m-1;j>=0;j--)L[i][j]=a[i]===b[j]?L[i+1][j+1]+1:Math.max(L[i+1][j],L[i][j+1]);"
    "var out=[];i=0;j=0;while(i<n||j<m){if(i<n&&j<m&&a[i]===b[j]){out.push([' ',a[i]]);i++;j++;}"
    "else if(j<m&&(i>=n||L[i][j+1]>=L[i+1][j])){out.push(['+',b[j]]);j++;}else{out.push(['-',a[i]]);i++;}}"
    "return out;}"
    "function draw(){var root=document.getElementById('cmp');root.textContent='';var sel=ids();"
    "if(sel.length<2){root.appendChild(el('p','Tick two or more candidates on the index and press compare, or "
    "open compare.html#ids=1,2.','dim'));return;}"
    "var cs=sel.map(function(x){return by[x];});"
    "root.appendChild(el('h2','Metrics'));var t=el('table',undefined,'list metrics'),h=el('tr');"
    "h.appendChild(el('th','metric'));cs.forEach(function(c){var th=el('th');var a=el('a','#'+c.id+' '+c.arch);"
    "a.href='c/'+c.id+'.html';th.appendChild(a);h.appendChild(th);});t.appendChild(h);"
    "var keys=['status','approval','generation','parent'];Object.keys(cs.reduce(function(k,c){"
    "Object.keys(c.metrics).forEach(function(x){k[x]=1;});return k;},{})).sort().forEach(function(k){keys.push(k);});"
    "keys.forEach(function(k){var r=el('tr');r.appendChild(el('th',k));cs.forEach(function(c){"
    "var v=k in c.metrics?c.metrics[k]:c[k];r.appendChild(el('td',v===null||v===undefined?'-':"
    "(typeof v==='number'?Number(v.toPrecision(6)):v),typeof v==='number'?'n':''));});t.appendChild(r);});"
    "root.appendChild(t);"
    "root.appendChild(el('h2','Loss curves'));var W=720,H=240,ns='http://www.w3.org/2000/svg',"
    "svg=document.createElementNS(ns,'svg');svg.setAttribute('width',W);svg.setAttribute('height',H);"
    "svg.setAttribute('class','curves');var lo=Infinity,hi=-Infinity,len=1;cs.forEach(function(c){"
    "c.curve.forEach(function(v){if(isFinite(v)){lo=Math.min(lo,v);hi=Math.max(hi,v);}});"
    "len=Math.max(len,c.curve.length);});if(hi===lo){hi+=.5;lo-=.5;}"
    "var col=['#0550ae','#b3261e','#176f2c','#8a5a00','#6f1a8a','#333'];cs.forEach(function(c,ci){"
    "if(!c.curve.length)return;var p=document.createElementNS(ns,'polyline');p.setAttribute('fill','none');"
    "p.setAttribute('stroke',col[ci%col.length]);p.setAttribute('stroke-width','2');"
    "p.setAttribute('points',c.curve.map(function(v,i){return(10+i/Math.max(1,len-1)*(W-20)).toFixed(1)+','+"
    "(10+(hi-v)/(hi-lo)*(H-20)).toFixed(1);}).join(' '));svg.appendChild(p);});root.appendChild(svg);"
    "var lg=el('p');cs.forEach(function(c,ci){var s=el('span','\\u25a0 #'+c.id+' '+c.arch+'  ');"
    "s.style.color=col[ci%col.length];lg.appendChild(s);});root.appendChild(lg);"
    "cs.slice(1).forEach(function(c){root.appendChild(el('h2','Code: #'+cs[0].id+' \\u2192 #'+c.id));"
    "var d=diff(cs[0].code,c.code),pre=el('pre',undefined,'diff');if(!d){pre.textContent='too long to diff here';}"
    "else{var same=0;d.forEach(function(x){if(x[0]===' '){same++;return;}var s=el('span',x[0]+x[1]+'\\n',"
    "x[0]==='+'?'add':'del');pre.appendChild(s);});pre.insertBefore(el('span',same+' line(s) the same\\n','dim'),"
    "pre.firstChild);}root.appendChild(pre);});}"
    "window.addEventListener('hashchange',draw);draw();})();</script>";

static int compare_page(struct site *s, struct sbuf *out, char *err, size_t errlen)
{
	struct json *data = json_array();
	struct sbuf js = SBUF_INIT;

	for (size_t i = 0; i < s->rows->count; i++) {
		const struct json *r = s->rows->items[i];
		struct json *c, *full, *m = json_object(), *curve = json_array();
		const struct json *um = json_get(r, "user_metrics"), *fm, *lc;
		static const char *const own[] = {"parameters", "heldout_loss", "final_loss"};
		double id = 0;

		if (!site_included(s, r))
			continue;
		json_get_num(r, "id", &id);
		full = pool_get(s->pool, (long long)id, true, err, errlen);
		if (!full) {
			json_free(m);
			json_free(curve);
			json_free(data);
			return -1;
		}
		fm = json_get(full, "metrics");
		lc = fm ? json_get(fm, "loss_curve") : NULL;
		for (size_t k = 0; lc && lc->type == JSON_ARRAY && k < lc->count; k++)
			if (lc->items[k]->type == JSON_NUMBER)
				json_append(curve, json_num(lc->items[k]->n));
		for (size_t k = 0; k < sizeof(own) / sizeof(own[0]); k++) {
			double v;

			if (json_get_num(r, own[k], &v))
				json_set(m, own[k], json_num(v));
		}
		for (size_t k = 0; um && um->type == JSON_OBJECT && k < um->count; k++)
			if (um->items[k]->type == JSON_NUMBER || um->items[k]->type == JSON_STRING)
				json_set(m, um->keys[k], json_dup(um->items[k]));
		c = json_object();
		json_set(c, "id", json_num(id));
		json_set(c, "arch", json_str(json_get_str_or(r, "architecture_id", "")));
		json_set(c, "status", json_str(json_get_str_or(r, "status", "")));
		json_set(c, "approval", json_str(json_get_str_or(r, "approval", "-")));
		json_set(c, "generation", json_get(r, "generation") ? json_dup(json_get(r, "generation")) : json_null());
		json_set(c, "parent", json_get(r, "parent_id") ? json_dup(json_get(r, "parent_id")) : json_null());
		json_set(c, "metrics", m);
		json_set(c, "curve", curve);
		json_set(c, "code", json_str(json_get_str_or(full, "final_code", "")));
		json_append(data, c);
		json_free(full);
	}
	json_write(data, &js, -1);
	json_free(data);
	site_page_begin(out, "compare", "");
	sbuf_adds(out, "<h1>Compare</h1>\n<div id=cmp><p class=dim>This view needs JavaScript; each candidate's page "
		       "has everything it shows.</p></div>\n<script type=application/json id=data>");
	/* JSON has '<' only inside strings, where \u003c means the same: no
	 * candidate's text can close this element */
	for (size_t i = 0; i < js.len; i++) {
		if (js.buf[i] == '<')
			sbuf_adds(out, "\\u003c");
		else
			sbuf_addc(out, js.buf[i]);
	}
	sbuf_adds(out, "</script>\n");
	sbuf_adds(out, compare_js);
	site_page_end(out);
	sbuf_release(&js);
	return 0;
}

int review_pages(struct site *s, char *err, size_t errlen)
{
	struct sbuf page = SBUF_INIT;
	int rc = -1;

	if (data_files(s, err, errlen) < 0)
		goto out;
	generations_page(s, &page);
	if (write_file(s, "generations.html", &page, err, errlen) < 0)
		goto out;
	page.len = 0;
	if (compare_page(s, &page, err, errlen) < 0 || write_file(s, "compare.html", &page, err, errlen) < 0)
		goto out;
	rc = 0;
out:
	sbuf_release(&page);
	return rc;
}
