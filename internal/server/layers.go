package server

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/aloft-dev/aloft/internal/build"
	"github.com/aloft-dev/aloft/internal/template"
)

// buildLayers prepares every layer the stack declares with local content, by
// logical ID. A layer aloft cannot build is a warning; functions that use it
// run without it.
func (s *Server) buildLayers(ctx context.Context, stack *template.Stack) (map[string]*build.Layer, []string, error) {
	var ids []string
	for id, r := range stack.Resources {
		if r.Type == "AWS::Lambda::LayerVersion" {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	layers := map[string]*build.Layer{}
	var warnings []string
	for _, id := range ids {
		r := stack.Resources[id]
		content, ok := r.Properties["Content"].(string)
		if !ok {
			continue // in S3: the template package already warned
		}
		method, _ := r.Metadata["BuildMethod"].(string)
		l, err := s.builder.BuildLayer(ctx, build.LayerSpec{Name: id, ContentPath: content, BuildMethod: method})
		switch {
		case errors.Is(err, build.ErrUnsupported):
			warnings = append(warnings, err.Error())
		case err != nil:
			return nil, nil, err
		default:
			layers[id] = l
		}
	}
	return layers, warnings, nil
}

// functionLayers resolves fn's Layers (logical IDs of local layers, or ARNs)
// to built layers. Layers that are only ARNs are skipped with a warning.
func functionLayers(fn template.Function, built map[string]*build.Layer) ([]*build.Layer, []string) {
	var out []*build.Layer
	var warnings []string
	for _, ref := range fn.Layers {
		if l, ok := built[ref]; ok {
			out = append(out, l)
			continue
		}
		warnings = append(warnings, fmt.Sprintf("function %s: layer %s is not a local layer of this template; skipped", fn.Name, ref))
	}
	return out, warnings
}
