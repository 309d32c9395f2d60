// Package deploycheck holds no production code: its tests statically check the deployment
// files (docker-compose.yml with .env.example, Dockerfile, deploy/), since CI has no Docker
// engine to run them. e2e/monitoring_test.go runs their SQL, roles and monitoring config.
package deploycheck
