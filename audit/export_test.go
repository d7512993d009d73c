package audit

import "testing"

// TamperMemory rewrites entry seq of s with edit, behind the chain checks:
// the store's API offers no such thing. Tests use it to check Verify.
func TamperMemory(t testing.TB, s *MemoryStore, seq uint64, edit func(*Entry)) {
	t.Helper()
	txn := s.db.Txn(true)
	defer txn.Abort()
	obj, err := txn.First(memTable, "id", seqKey(seq))
	if err != nil || obj == nil {
		t.Fatalf("tamper: no entry %d (%v)", seq, err)
	}
	e := obj.(*row).e.clone()
	edit(&e)
	if err := txn.Delete(memTable, obj); err != nil {
		t.Fatal(err)
	}
	if err := txn.Insert(memTable, newRow(e)); err != nil {
		t.Fatal(err)
	}
	txn.Commit()
}

// DeleteMemory removes entry seq of s behind the chain checks.
func DeleteMemory(t testing.TB, s *MemoryStore, seq uint64) {
	t.Helper()
	txn := s.db.Txn(true)
	defer txn.Abort()
	obj, err := txn.First(memTable, "id", seqKey(seq))
	if err != nil || obj == nil {
		t.Fatalf("delete: no entry %d (%v)", seq, err)
	}
	if err := txn.Delete(memTable, obj); err != nil {
		t.Fatal(err)
	}
	txn.Commit()
}

// SetPageSize makes l verify n entries per Range, to exercise paging.
func SetPageSize(l *Log, n int) { l.pageSize = n }
