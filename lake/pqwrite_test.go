package lake

import (
	"cmp"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ramen-siem/ramen/event"
)

// decodeHybrid reads n values of the RLE / bit-packed hybrid encoding as the format defines it
// (an independent reading, to check appendHybrid against), and returns what is left after them.
func decodeHybrid(t *testing.T, b []byte, width, n int) ([]uint32, []byte) {
	t.Helper()
	var out []uint32
	for len(out) < n {
		h, k := binary.Uvarint(b)
		if k <= 0 {
			t.Fatalf("bad run header at %d values", len(out))
		}
		b = b[k:]
		if h&1 == 0 { // RLE run
			count := int(h >> 1)
			var v uint32
			nb := (width + 7) / 8
			for i := range nb {
				v |= uint32(b[i]) << (8 * i)
			}
			b = b[nb:]
			for range count {
				out = append(out, v)
			}
			continue
		}
		groups := int(h >> 1)
		bitsIn := b[:groups*width]
		b = b[groups*width:]
		for i := range groups * 8 {
			var v uint32
			for j := range width {
				bit := i*width + j
				if bitsIn[bit/8]&(1<<(bit%8)) != 0 {
					v |= 1 << j
				}
			}
			out = append(out, v)
		}
	}
	if len(out) > n {
		// Padding of the last bit-packed run: only zeros.
		for _, v := range out[n:] {
			if v != 0 {
				t.Fatalf("padding holds %d", v)
			}
		}
	}
	return out[:n], b
}

func TestHybridRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	cases := map[string][]uint32{
		"empty":            {},
		"one":              {1},
		"all same":         slices.Repeat([]uint32{1}, 1000),
		"seven then run":   append([]uint32{0, 1, 0, 1, 0, 1, 0}, slices.Repeat([]uint32{1}, 20)...),
		"run then literal": append(slices.Repeat([]uint32{0}, 9), 1, 0, 1),
		"alternating":      {0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0},
	}
	for i := range 50 {
		var v []uint32
		for range rng.IntN(300) {
			// Runs of random lengths, so that runs start inside and at the edges of groups of 8.
			x := uint32(rng.IntN(4))
			for range 1 + rng.IntN(12) {
				v = append(v, x)
			}
		}
		cases[fmt.Sprint("random ", i)] = v
	}
	for name, vals := range cases {
		for _, width := range []int{1, 2, 3, 8, 9, 17} {
			mask := uint32(1)<<width - 1
			in := make([]uint32, len(vals))
			for i, v := range vals {
				in[i] = (v * 2654435761) & mask // spread the values over the width
				if v == 0 {
					in[i] = 0
				}
			}
			enc := appendHybrid(nil, in, width)
			got, rest := decodeHybrid(t, enc, width, len(in))
			if !slices.Equal(got, in) {
				t.Fatalf("%s, width %d: decoded %v, want %v", name, width, got, in)
			}
			if len(rest) != 0 {
				t.Fatalf("%s, width %d: %d bytes after the values", name, width, len(rest))
			}
			if width == 1 && name == "all same" && len(enc) > 4 {
				t.Errorf("a run of 1000 equal levels takes %d bytes, want one RLE run", len(enc))
			}
		}
	}
	// Levels as bytes take the same path.
	lv := []uint8{1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0}
	got, _ := decodeHybrid(t, appendHybrid(nil, lv, 1), 1, len(lv))
	for i := range lv {
		if got[i] != uint32(lv[i]) {
			t.Fatalf("levels: %v, want %v", got, lv)
		}
	}
}

// decodeDelta reads DELTA_BINARY_PACKED values as the format defines them.
func decodeDelta(t *testing.T, b []byte) []int64 {
	t.Helper()
	uv := func() uint64 {
		v, k := binary.Uvarint(b)
		if k <= 0 {
			t.Fatal("bad varint")
		}
		b = b[k:]
		return v
	}
	zz := func() int64 {
		v, k := binary.Varint(b)
		if k <= 0 {
			t.Fatal("bad zigzag varint")
		}
		b = b[k:]
		return v
	}
	blockLen, minis, total := int(uv()), int(uv()), int(uv())
	out := []int64{zz()}
	if total == 0 {
		out = nil
	}
	miniLen := blockLen / minis
	for len(out) < total {
		minD := zz()
		widths := b[:minis]
		b = b[minis:]
		for m := 0; m < minis && len(out) < total; m++ {
			w := int(widths[m])
			for i := range miniLen {
				var x uint64
				for j := range w {
					bit := i*w + j
					if b[bit/8]&(1<<(bit%8)) != 0 {
						x |= 1 << j
					}
				}
				if len(out) < total {
					out = append(out, out[len(out)-1]+minD+int64(x))
				}
			}
			b = b[miniLen*w/8:]
		}
	}
	if len(b) != 0 {
		t.Fatalf("%d bytes after the values", len(b))
	}
	return out
}

func TestDeltaRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	cases := map[string][]int64{
		"empty":       {},
		"one":         {-7},
		"constant":    slices.Repeat([]int64{42}, 300),
		"ascending":   {1, 2, 3, 5, 8, 13, 21, 34, 55, 89},
		"extremes":    {math.MinInt64, math.MaxInt64, 0, math.MinInt64, -1, math.MaxInt64},
		"one block":   nil,
		"full blocks": nil,
	}
	for i := range 128 {
		cases["one block"] = append(cases["one block"], int64(i*i))
	}
	for range 129*3 + 31 {
		cases["full blocks"] = append(cases["full blocks"], rng.Int64N(1<<40)-1<<39)
	}
	for i := range 20 {
		var v []int64
		x := rng.Int64()
		for range rng.IntN(700) {
			x += rng.Int64N(1 << uint(rng.IntN(63))) // deltas of every width, some wrapping
			v = append(v, x)
		}
		cases[fmt.Sprint("random ", i)] = v
	}
	for name, in := range cases {
		got := decodeDelta(t, appendDelta(nil, in))
		if !slices.Equal(got, in) && !(len(got) == 0 && len(in) == 0) {
			t.Fatalf("%s: decoded %v, want %v", name, got, in)
		}
	}
	if n := len(appendDelta(nil, cases["constant"])); n > 24 {
		t.Errorf("300 equal values take %d bytes", n)
	}
}

func TestBitPackedBooleans(t *testing.T) {
	in := []uint32{1, 0, 1, 1, 0, 0, 0, 1, 1}
	b := appendBitPacked(nil, in, 1)
	if want := []byte{0b10001101, 0b00000001}; !slices.Equal(b, want) {
		t.Fatalf("packed %08b, want %08b (least significant bit first)", b, want)
	}
}

// The column chunks' statistics are what readers skip row groups by (a time filter above all):
// each row group's min, max and nulls per column, none for the original record, and a column whose
// dictionary outgrows its limit is written PLAIN with every value still in place.
func TestChunkStatistics(t *testing.T) {
	l := openLake(t)
	base := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	const n = 130_000 // two row groups: [0, 122880) and the rest
	step := n / samples
	evs := make([]*event.Event, 0, n)
	for i := range n {
		e := event.New("stats", "r", 6)
		e.ID, e.Timestamp = fmt.Sprint(i), base.Add(time.Duration(i)*10*time.Millisecond)
		e.Original = fmt.Sprintf(`{"i":%d}`, i)
		e.Add("n", event.Int(int64(i%1000)-500))
		e.Add("f", event.Float([]float64{math.NaN(), -2.5, 0, 7.25}[i%4]))
		e.Add("b", event.Bool(i%3 == 0))
		e.Add("action", event.String([]string{"Get", "Put", "Delete"}[i%3]))
		if i%2 == 0 {
			e.Add("half", event.String(fmt.Sprintf("h%06d", i)))
		}
		// Repeats where the writer samples (one row in step), unique and long elsewhere: it gets
		// a dictionary that outgrows maxDictBytes.
		big := "same"
		if i%step != 0 {
			big = fmt.Sprintf("%09d-%s", i, strings.Repeat("x", 40))
		}
		e.Add("big", event.String(big))
		if i < 10 {
			// Columns with no value at all in the second row group: a chunk of nulls only.
			e.Add("early.n", event.Int(int64(i)))
			e.Add("early.s", event.String(fmt.Sprint(i)))
			e.Add("early.l", event.Strings(fmt.Sprint(i)))
			e.Add("early.b", event.Bool(true))
			e.Add("early.f", event.Float(float64(i)))
		}
		evs = append(evs, e)
	}
	ingest(t, l, "k", evs, nil)
	meta := `parquet_metadata(` + sqlString(l.partitionGlob("stats")) + `)`
	rows, err := l.DB().Query(`SELECT row_group_id, replace(path_in_schema, ', ', '.'), stats_min_value, stats_max_value, stats_null_count, encodings FROM ` + meta + ` ORDER BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for rows.Next() {
		var g int64
		var path, encs string
		var lo, hi sql.NullString
		var nulls sql.NullInt64
		if err := rows.Scan(&g, &path, &lo, &hi, &nulls, &encs); err != nil {
			t.Fatal(err)
		}
		got[fmt.Sprint(g, " ", path)] = fmt.Sprintf("%s..%s nulls %d %s", lo.String, hi.String, nulls.Int64, encs)
	}
	rows.Close()
	want := map[string]string{
		"0 @timestamp": "2026-03-02 08:00:00..2026-03-02 08:20:28.79 nulls 0 RLE, DELTA_BINARY_PACKED",
		"1 @timestamp": "2026-03-02 08:20:28.8..2026-03-02 08:21:39.99 nulls 0 RLE, DELTA_BINARY_PACKED",
		"0 n":          "-500..499 nulls 0 RLE, DELTA_BINARY_PACKED",
		"0 f":          "-2.5..7.25 nulls 0 PLAIN, RLE",
		"0 b":          "false..true nulls 0 PLAIN, RLE",
		"0 action":     "Delete..Put nulls 0 PLAIN, RLE, RLE_DICTIONARY",
		"0 half":       "h000000..h122878 nulls 61440 RLE, DELTA_LENGTH_BYTE_ARRAY",
		"1 half":       "h122880..h129998 nulls 3560 RLE, DELTA_LENGTH_BYTE_ARRAY",
		"0 _original":  ".. nulls 0 RLE, DELTA_LENGTH_BYTE_ARRAY",
		"1 early.n":    ".. nulls 7120 RLE, DELTA_BINARY_PACKED",
		"0 early.n":    "0..9 nulls 122870 RLE, DELTA_BINARY_PACKED",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("row group %s: %q, want %q", k, got[k], w)
		}
	}
	if g := got["0 big"]; strings.Contains(g, "DICTIONARY") {
		t.Errorf("big: %s, want PLAIN once its dictionary is too big", g)
	}
	// Every value where it was put.
	var bad int64
	err = l.DB().QueryRow(`SELECT count(*) FILTER (WHERE big IS DISTINCT FROM CASE WHEN i % ` + fmt.Sprint(step) + ` = 0 THEN 'same' ELSE printf('%09d-%s', i, repeat('x', 40)) END
		OR action != ['Get', 'Put', 'Delete'][i % 3 + 1] OR (half IS NULL) != (i % 2 = 1) OR (i % 4 = 0) != isnan(f)
		OR early.n IS DISTINCT FROM CASE WHEN i < 10 THEN i END OR early.s IS DISTINCT FROM CASE WHEN i < 10 THEN i::VARCHAR END
		OR early.l IS DISTINCT FROM CASE WHEN i < 10 THEN [i::VARCHAR] END OR early.b IS DISTINCT FROM CASE WHEN i < 10 THEN true END
		OR early.f IS DISTINCT FROM CASE WHEN i < 10 THEN i::DOUBLE END)
		FROM (SELECT *, (_original->>'i')::BIGINT AS i FROM read_parquet(` + sqlString(l.partitionGlob("stats")) + `))`).Scan(&bad)
	if err != nil {
		t.Fatal(err)
	}
	if bad != 0 {
		t.Errorf("%d rows read back wrong", bad)
	}
}

// timeOrder sorts rows by time, ties in the order added, however far apart the times.
func TestTimeOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, spread := range []int64{0, 1000, int64(time.Hour), math.MaxInt64 / 4} {
		ts := make([]int64, 5000)
		for i := range ts {
			ts[i] = rng.Int64N(spread+1) - spread/2
			if i%7 == 0 && i > 0 {
				ts[i] = ts[i-1] // ties
			}
		}
		if spread == math.MaxInt64/4 {
			ts[0], ts[1] = math.MinInt64, math.MaxInt64 // the widest span
		}
		perm := timeOrder(ts)
		want := make([]int32, len(ts))
		for i := range want {
			want[i] = int32(i)
		}
		slices.SortStableFunc(want, func(x, y int32) int { return cmp.Compare(ts[x], ts[y]) })
		if !slices.Equal(perm, want) {
			t.Errorf("spread %d: not in time order, ties in the order added", spread)
		}
	}
	keys := make([]uint64, 3000)
	rows := make([]int32, len(keys))
	for i := range keys {
		keys[i] = rng.Uint64() >> (i % 64) // every digit, some keys alike above theirs
		if i%5 == 0 && i > 0 {
			keys[i] = keys[i-1] // ties
		}
		rows[i] = int32(i)
	}
	want := slices.Clone(rows)
	slices.SortStableFunc(want, func(x, y int32) int { return cmp.Compare(keys[x], keys[y]) })
	if got := radixSort(slices.Clone(keys), rows); !slices.Equal(got, want) {
		t.Error("radixSort: rows not in the order of their keys, ties in their order")
	}
}
