package nexmark

import "strconv"

// AppendJSON appends e as one JSON object holding a "person", "auction" or
// "bid" object with the standard field names; times are epoch
// milliseconds.
func AppendJSON(dst []byte, e *Event) []byte {
	switch e.Kind {
	case KindPerson:
		p := &e.Person
		dst = append(dst, `{"person":{"id":`...)
		dst = strconv.AppendInt(dst, p.ID, 10)
		dst = appendField(dst, "name", p.Name)
		dst = appendField(dst, "emailAddress", p.EmailAddress)
		dst = appendField(dst, "creditCard", p.CreditCard)
		dst = appendField(dst, "city", p.City)
		dst = appendField(dst, "state", p.State)
		dst = appendInt(dst, "dateTime", p.DateTime)
		dst = appendField(dst, "extra", p.Extra)
	case KindAuction:
		a := &e.Auction
		dst = append(dst, `{"auction":{"id":`...)
		dst = strconv.AppendInt(dst, a.ID, 10)
		dst = appendField(dst, "itemName", a.ItemName)
		dst = appendField(dst, "description", a.Description)
		dst = appendInt(dst, "initialBid", a.InitialBid)
		dst = appendInt(dst, "reserve", a.Reserve)
		dst = appendInt(dst, "dateTime", a.DateTime)
		dst = appendInt(dst, "expires", a.Expires)
		dst = appendInt(dst, "seller", a.Seller)
		dst = appendInt(dst, "category", a.Category)
		dst = appendField(dst, "extra", a.Extra)
	default:
		b := &e.Bid
		dst = append(dst, `{"bid":{"auction":`...)
		dst = strconv.AppendInt(dst, b.Auction, 10)
		dst = appendInt(dst, "bidder", b.Bidder)
		dst = appendInt(dst, "price", b.Price)
		dst = appendField(dst, "channel", b.Channel)
		dst = appendField(dst, "url", b.URL)
		dst = appendInt(dst, "dateTime", b.DateTime)
		dst = appendField(dst, "extra", b.Extra)
	}
	return append(dst, "}}"...)
}

func appendInt(dst []byte, name string, x int64) []byte {
	dst = append(append(append(dst, `,"`...), name...), `":`...)
	return strconv.AppendInt(dst, x, 10)
}

// appendField appends a string field. Generated strings are printable
// ASCII; quotes and backslashes are escaped all the same.
func appendField(dst []byte, name, s string) []byte {
	dst = append(append(append(dst, `,"`...), name...), `":"`...)
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			dst = append(dst, '\\', c)
		} else {
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
