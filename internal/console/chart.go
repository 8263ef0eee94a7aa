package console

import (
	"strconv"
	"time"

	"github.com/notrain/notrain/internal/dashboard"
	"github.com/notrain/notrain/internal/locale"
)

// chart is a bar chart drawn on the server as SVG. The same numbers go in
// a table beside it, so a screen reader (or a person without colour
// vision) reads them as text.
type chart struct {
	ID       string
	Title    string // the chart's <title> and the table's caption
	LabelCol string // the table's first column heading
	ValueCol string
	Width    int
	Height   int
	Bars     []bar
}

type bar struct {
	Label string // day, bucket or reason
	Value string // as text
	X, Y  int
	W, H  int
	LX    int // where the label is written
}

const (
	chartHeight = 140
	chartBottom = 24 // room for labels
	barWidth    = 28
	barGap      = 8
)

// barChart lays out values (already as numbers) into a chart.
func barChart(id, title, labelCol, valueCol string, labels []string, values []float64, texts []string) chart {
	ch := chart{ID: id, Title: title, LabelCol: labelCol, ValueCol: valueCol, Height: chartHeight + chartBottom}
	top := 0.0
	for _, v := range values {
		top = max(top, v)
	}
	for i, v := range values {
		h := 0
		if top > 0 {
			h = int(v / top * float64(chartHeight-16))
		}
		if v > 0 && h == 0 {
			h = 1 // a non-zero value is never drawn as nothing
		}
		x := barGap + i*(barWidth+barGap)
		ch.Bars = append(ch.Bars, bar{Label: labels[i], Value: texts[i], X: x, Y: chartHeight - h, W: barWidth, H: h, LX: x + barWidth/2})
	}
	ch.Width = barGap + len(values)*(barWidth+barGap)
	return ch
}

// charts draws the dashboard's report in lang.
func charts(cat *locale.Catalog, lang string, rep dashboard.Report) []chart {
	var out []chart
	day := cat.T(lang, "admin_col_day")
	count := cat.T(lang, "admin_col_count")
	for _, s := range rep.Series {
		labels := make([]string, len(s.Days))
		values := make([]float64, len(s.Days))
		texts := make([]string, len(s.Days))
		for i, d := range s.Days {
			labels[i] = cat.DayMonth(lang, d)
			values[i] = float64(s.Counts[i])
			texts[i] = cat.Number(lang, s.Counts[i])
		}
		out = append(out, barChart("series-"+string(s.Name), cat.T(lang, "admin_series_"+string(s.Name)), day, count, labels, values, texts))
	}
	if rep.ReviewsKnown {
		var labels, texts []string
		var values []float64
		for _, b := range rep.Reviews {
			labels = append(labels, b.Name)
			values = append(values, float64(b.Count))
			texts = append(texts, cat.Number(lang, b.Count))
		}
		out = append(out, barChart("reviews-age", cat.T(lang, "admin_chart_reviews_age"), cat.T(lang, "admin_col_age"), count, labels, values, texts))
	}
	for i, s := range rep.Snapshots {
		var labels, texts []string
		var values []float64
		for _, e := range s.Excluded {
			labels = append(labels, e.Reason)
			values = append(values, e.Share)
			texts = append(texts, cat.Percent(lang, e.Share)+" ("+cat.Number(lang, e.Count)+")")
		}
		out = append(out, barChart("snapshot-"+strconv.Itoa(i), cat.T(lang, "admin_chart_snapshot", "id", s.ID, "read", cat.Number(lang, s.Read), "kept", cat.Number(lang, s.Kept)),
			cat.T(lang, "admin_col_reason"), cat.T(lang, "admin_col_share"), labels, values, texts))
	}
	return out
}

// sampleCharts is what the start-up render check draws.
func sampleCharts(now time.Time) []chart {
	return []chart{barChart("x", "x", "d", "n", []string{now.Format("01-02")}, []float64{1}, []string{"1"})}
}
