package status

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestDynamicTunnel: a dynamic tunnel's control connection and circuits
// appear in show's text under the tunnel's ends, and in the JSON; a
// static tunnel shows neither.
func TestDynamicTunnel(t *testing.T) {
	s := fake()
	s.Tunnels[0].Connection = `established, connection 7, peer's 9, peer host "b"`
	s.Tunnels[0].Circuits = []Circuit{
		{Name: "vm1", TAP: "vm0", State: "up", TxSession: 20, RxSession: 10},
		{Name: "vm2", TAP: "vm5", State: "down: peer sent CDN (result 5)"},
	}
	var b strings.Builder
	if err := WriteText(&b, s); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	want := []string{
		`  control connection: established, connection 7, peer's 9, peer host "b"`,
		"  circuit vm1, interface vm0: up, session 10, peer session 20",
		"  circuit vm2, interface vm5: down: peer sent CDN (result 5)",
	}
	for i, w := range want {
		if lines[3+i] != w {
			t.Errorf("line %d: %q, want %q\n%s", 4+i, lines[3+i], w, b.String())
		}
	}
	if strings.Count(b.String(), "control connection") != 1 || strings.Count(b.String(), "circuit ") != 2 {
		t.Errorf("a static tunnel shows a connection or circuits:\n%s", b.String())
	}
	js, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), `"circuits":[{"name":"vm1","tap":"vm0","state":"up","tx_session":20,"rx_session":10},{"name":"vm2","tap":"vm5","state":"down: peer sent CDN (result 5)"}]`) {
		t.Errorf("JSON: %s", js)
	}
}
