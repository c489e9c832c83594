package parse

import (
	"errors"
	"fmt"

	"github.com/ramen-siem/ramen/decode"
)

// Rejection is an error that says why a record was rejected in a word (its reason category: "fields",
// "number", "time", ...) besides the message.
type Rejection struct {
	Reason string
	Msg    string
}

func (r *Rejection) Error() string { return r.Msg }

// Rejectf returns a Rejection with the reason and a formatted message.
func Rejectf(reason, format string, args ...any) error {
	return &Rejection{Reason: reason, Msg: fmt.Sprintf(format, args...)}
}

// ReasonOf returns the reason category of a record's error: a Rejection's own, "too_long" for a
// record over the size limit, else fallback.
func ReasonOf(err error, fallback string) string {
	var r *Rejection
	switch {
	case errors.As(err, &r):
		return r.Reason
	case errors.Is(err, decode.ErrTooLong):
		return "too_long"
	}
	return fallback
}
