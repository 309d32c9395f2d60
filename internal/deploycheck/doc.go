// Package deploycheck holds no production code: its tests statically check the
// deployment files at the repository root (docker-compose.yml, .env, Dockerfile),
// since CI has a docker CLI but no engine to actually run them.
package deploycheck
