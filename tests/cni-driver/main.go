// cni-driver: a small container runtime's network side, on libcni (the library
// containerd and CRI-O use to call CNI plugins). It runs ADD, CHECK or DEL of one
// network config list for one container, exactly as a runtime would.
//
//	cni-driver add|check|del CONFLIST CONTAINERID NETNS IFNAME
//
// CNI_PATH (plugin dirs, ':'-separated) and CNI_CACHE_DIR come from the environment,
// and CNI_PORT_MAPPINGS (a JSON list, the portMappings capability) if set.
// ADD prints the result JSON; errors go to stderr with exit status 1.
// Build offline in GOPATH mode against Debian's golang-github-appc-cni-dev:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o cni-driver .
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/containernetworking/cni/libcni"
)

func main() {
	if len(os.Args) != 6 {
		fmt.Fprintln(os.Stderr, "usage: cni-driver add|check|del CONFLIST CONTAINERID NETNS IFNAME")
		os.Exit(2)
	}
	verb, file, id, netns, ifname := os.Args[1], os.Args[2], os.Args[3], os.Args[4], os.Args[5]
	list, err := libcni.ConfListFromFile(file)
	if err != nil {
		fail("read conflist", err)
	}
	cni := libcni.NewCNIConfigWithCacheDir(filepath.SplitList(os.Getenv("CNI_PATH")),
		os.Getenv("CNI_CACHE_DIR"), nil)
	rt := &libcni.RuntimeConf{ContainerID: id, NetNS: netns, IfName: ifname}
	if ports := os.Getenv("CNI_PORT_MAPPINGS"); ports != "" {
		var mappings []map[string]interface{}
		if err := json.Unmarshal([]byte(ports), &mappings); err != nil {
			fail("CNI_PORT_MAPPINGS", err)
		}
		rt.CapabilityArgs = map[string]interface{}{"portMappings": mappings}
	}
	ctx := context.Background()
	switch verb {
	case "add":
		result, err := cni.AddNetworkList(ctx, list, rt)
		if err != nil {
			fail("ADD", err)
		}
		out, _ := json.Marshal(result)
		fmt.Println(string(out))
	case "check":
		if err := cni.CheckNetworkList(ctx, list, rt); err != nil {
			fail("CHECK", err)
		}
	case "del":
		if err := cni.DelNetworkList(ctx, list, rt); err != nil {
			fail("DEL", err)
		}
	default:
		fmt.Fprintln(os.Stderr, "unknown verb", verb)
		os.Exit(2)
	}
}

func fail(what string, err error) {
	fmt.Fprintf(os.Stderr, "cni-driver: %s: %v\n", what, err)
	os.Exit(1)
}
