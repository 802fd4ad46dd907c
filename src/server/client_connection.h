#pragma once
// Noticing that an HTTP client went away while its non-streaming request is still generating.
// A streaming response learns it when a write fails; a plain one writes nothing until the end,
// and the HTTP library (cpp-httplib 0.11) hands handlers no socket. The connection is found by
// its addresses instead, among the process's sockets, and peeked at while the request runs.
#include <string>

namespace infera::server {

// The socket whose peer is remote_addr:remote_port and whose local port is local_port; -1 when
// none is found. Valid while the handler serving that connection runs.
int find_connection_socket(const std::string& remote_addr, int remote_port, int local_port);

// True when the peer has closed the connection (or it failed). Never blocks or consumes data.
bool peer_closed(int socket_fd);

}  // namespace infera::server
