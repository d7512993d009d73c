package pii_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/pii"
)

// A citizen's phone number masked in logs: the logger shows 138****5678
// without the caller doing anything.
func Example() {
	phone, err := pii.NewPhone("+86 138-1234-5678")
	if err != nil {
		fmt.Println(err)
		return
	}
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // keep the output stable
			}
			return a
		},
	}))
	logger.Info("incident reported", "incident", "inc-7", "reporter_phone", phone)
	fmt.Printf("call back %v\n", phone)
	// Output:
	// level=INFO msg="incident reported" incident=inc-7 reporter_phone=138****5678
	// call back 138****5678
}

// The masked form of each kind.
func ExampleData_Masked() {
	name, _ := pii.NewName("欧阳娜娜")
	phone, _ := pii.NewPhone("13812345678")
	id, _ := pii.NewIDNumber("11010519491231002X")
	addr, _ := pii.NewAddress("重庆市九龙坡区石桥铺街道科园一路3号")
	for _, d := range []pii.Data{name, phone, id, addr} {
		fmt.Printf("%-9s %s\n", d.Kind(), d.Masked())
	}
	// Output:
	// name      欧***
	// phone     138****5678
	// id-number 110***********002X
	// address   重庆市九龙坡****
}

// Errors say what is wrong without repeating the value.
func ExampleNewPhone() {
	_, err := pii.NewPhone("138-1234-567")
	fmt.Println(err)
	fmt.Println(errors.Is(err, pii.ErrInvalidPhone), errors.Is(err, pii.ErrInvalid))
	// Output:
	// pii: invalid phone: 11 digits expected, got 10
	// true true
}

// A street officer may reveal the phone number of a report in her own
// street, to call the citizen back, and is denied in the next street.
func ExampleData_Reveal() {
	policy, err := access.ParsePolicy([]byte(`{"version": 1, "roles": {
		"street-officer": [{"action": "reveal-personal-data", "resource": "incident"}]}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	li := access.Actor{ID: "li", Kind: access.StreetStaff, Scope: "500107001", Roles: []string{"street-officer"}}
	ctx := access.WithActor(context.Background(), li)
	phone, _ := pii.NewPhone("13812345678")

	mine := access.Resource{Kind: "incident", ID: "inc-7", Jurisdiction: "500107001002003"}
	next := access.Resource{Kind: "incident", ID: "inc-8", Jurisdiction: "500107002001004"}
	if v, err := phone.Reveal(ctx, policy, mine); err == nil {
		fmt.Println("inc-7:", v)
	}
	if _, err := phone.Reveal(ctx, policy, next); errors.Is(err, access.ErrDenied) {
		fmt.Println("inc-8:", err)
	}
	// Output:
	// inc-7: 13812345678
	// inc-8: access: denied li to reveal-personal-data incident inc-8: 500107002001004 lies outside the actor's jurisdiction 500107001
}

// Sealing for storage, with a blind index to find reports by phone number.
// Real keys come from a key store, never from source code.
func ExampleSealer() {
	encKey := []byte("0123456789abcdef0123456789abcdef") // 32 bytes; for the example only
	indexKey := []byte("fedcba9876543210fedcba9876543210")
	s, err := pii.NewSealer(encKey, indexKey)
	if err != nil {
		fmt.Println(err)
		return
	}
	phone, _ := pii.NewPhone("138 1234 5678")
	sealed, _ := s.Seal(phone) // store this …
	index := s.Index(phone)    // … and this, in an indexed column

	opened, err := s.Open(sealed)
	fmt.Println(opened, opened.Equal(phone), err)

	same, _ := pii.NewPhone("+8613812345678")
	fmt.Println(string(s.Index(same)) == string(index))
	// Output:
	// 138****5678 true <nil>
	// true
}
