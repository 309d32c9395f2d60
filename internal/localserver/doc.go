// Package localserver starts private, throwaway PostgreSQL and RabbitMQ servers on free
// loopback ports, for `make demo` and (through internal/testenv) for tests that must stop a
// server. It never touches the machine's shared servers and stops only the processes it
// started, by PID.
package localserver
