package locale

import (
	"fmt"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/number"
)

// The keys every catalog carries about itself rather than about a page.
const (
	// ReviewKey is the catalog's review status: who vouches for its wording.
	ReviewKey = "catalog_review"
	// LayoutKey is the language's date-time layout (a Go time layout).
	LayoutKey = "datetime_layout"
)

// The review statuses a catalog can have. Only the source language is
// "source"; a translation stays "machine translation, needs review" until a
// native speaker has read all of it and changed the value.
const (
	ReviewSource   = "source"
	ReviewMachine  = "machine translation, needs review"
	ReviewReviewed = "reviewed by a native speaker"
)

func checkReview(lang, status string) error {
	switch {
	case status == "":
		return fmt.Errorf("key %q is missing", ReviewKey)
	case lang == Default && status != ReviewSource:
		return fmt.Errorf("%s is %q, want %q: the default language is the source", ReviewKey, status, ReviewSource)
	case lang != Default && status != ReviewMachine && status != ReviewReviewed:
		return fmt.Errorf("%s is %q, want %q or %q", ReviewKey, status, ReviewMachine, ReviewReviewed)
	}
	return nil
}

// numericElements are the layout elements a date-time may use, longest
// first as time.Format reads them: digits only, so no month or weekday
// names (which would be English in every language), no 12-hour clock, no
// zone (times are shown in UTC, and the page says so).
var numericElements = []string{"2006", "01", "02", "_2", "15", "04", "05", "1", "2", "4", "5"}

// checkLayout refuses a date-time layout that is not numeric or does not
// show the year, month, day, hour and minute (15:04, or 15.04 where the
// language writes the time so).
func checkLayout(layout string) error {
	if layout == "" {
		return fmt.Errorf("key %q is missing", LayoutKey)
	}
	for i := 0; i < len(layout); {
		c := layout[i]
		switch {
		case c >= '0' && c <= '9' || c == '_':
			n := 0
			for _, e := range numericElements {
				if strings.HasPrefix(layout[i:], e) {
					n = len(e)
					break
				}
			}
			if n == 0 {
				return fmt.Errorf("%s %q: %q at byte %d is not a numeric element (%s)", LayoutKey, layout, layout[i:], i, strings.Join(numericElements, " "))
			}
			i += n
		case strings.IndexByte("JMPpZ", c) >= 0:
			// Jan, Mon, MST, PM, pm, Z07:00: names and zones.
			return fmt.Errorf("%s %q: %q at byte %d would show a name or a zone; use digits only", LayoutKey, layout, layout[i:], i)
		default:
			i++
		}
	}
	// A time whose every field differs from the others, so the check
	// cannot be met by one field standing in for another.
	probe := time.Date(2027, 11, 23, 19, 48, 0, 0, time.UTC).Format(layout)
	var missing []string
	for _, want := range []struct{ name, text string }{{"year", "2027"}, {"month", "11"}, {"day", "23"}} {
		if !strings.Contains(probe, want.text) {
			missing = append(missing, want.name)
		}
	}
	// The 24-hour clock, hours and minutes parted by a colon or, as Danish
	// and Finnish write it (CLDR), by a full stop.
	if !strings.Contains(probe, "19:48") && !strings.Contains(probe, "19.48") {
		missing = append(missing, "hour and minute (15:04 or 15.04)")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s %q shows %q: no %s", LayoutKey, layout, probe, strings.Join(missing, ", "))
	}
	return nil
}

// Review returns lang's review status (ReviewSource, ReviewMachine or
// ReviewReviewed); Load refuses any other value.
func (c *Catalog) Review(lang string) string { return c.T(lang, ReviewKey) }

// DateTime shows t in UTC by lang's layout (en: 2006-01-02 15:04). Pages and
// mails add the catalog's "utc" word or say UTC in the message around it.
func (c *Catalog) DateTime(lang string, t time.Time) string {
	return t.UTC().Format(c.T(lang, LayoutKey))
}

// Date shows t's day in UTC by lang's layout without the time of day: the
// date-time layout up to the hour, less the words and commas that join the
// two (02.01.2006, 15:04 → 02.01.2006; 2.1.2006 klo 15:04 → 2.1.2006).
func (c *Catalog) Date(lang string, t time.Time) string {
	return t.UTC().Format(dateLayout(c.T(lang, LayoutKey)))
}

// DayMonth shows t's day and month in UTC by lang's layout, without the
// year, for labels where the year goes without saying (a chart's days):
// 2006-01-02 → 01-02, 02.01.2006 → 02.01., 2006. 01. 02. → 01. 02.
func (c *Catalog) DayMonth(lang string, t time.Time) string {
	return t.UTC().Format(dayMonthLayout(dateLayout(c.T(lang, LayoutKey))))
}

// dayMonthLayout is a date layout less its year and the separators that
// joined it; a language that ends its day and month with a full stop
// (02.01.2006) keeps one.
func dayMonthLayout(date string) string {
	// Letters too: a word for "year" (02.01.2006 г.) goes with it.
	d := strings.TrimFunc(strings.Replace(date, "2006", "", 1), func(r rune) bool { return strings.ContainsRune(" -/,.", r) || unicode.IsLetter(r) })
	if strings.Contains(d, ".") {
		d += "."
	}
	return d
}

func dateLayout(layout string) string {
	i := strings.Index(layout, "15")
	if i < 0 {
		return layout
	}
	joiner := func(r rune) bool { return unicode.IsSpace(r) || r == ',' || unicode.IsLetter(r) }
	if d := strings.TrimRightFunc(layout[:i], joiner); d != "" {
		return d
	}
	// The time comes first (15:04, 02.01.2006): the date is what follows.
	rest := layout[i+2:]
	if j := strings.Index(rest, "04"); j >= 0 {
		rest = rest[j+2:]
	}
	rest = strings.TrimPrefix(rest, ":05")
	return strings.TrimLeftFunc(rest, joiner)
}

// Number shows an integer or a float with lang's digit grouping and decimal
// sign: 12,345 in en, 12.345 in de, 12 345 (no-break space) in pl.
func (c *Catalog) Number(lang string, n any) string {
	return c.printer(lang).Sprint(number.Decimal(n))
}

// Percent shows a share (0.125 for 12.5 %) with one decimal, by lang's
// rules for the decimal sign and the space before the sign.
func (c *Catalog) Percent(lang string, share float64) string {
	return c.printer(lang).Sprint(number.Percent(share, number.MinFractionDigits(1), number.MaxFractionDigits(1)))
}

func (c *Catalog) printer(lang string) interface{ Sprint(...any) string } {
	if p, ok := c.printers[lang]; ok {
		return p
	}
	return c.printers[Default]
}
