import NIOCore
import NIOPosix
import PostgresNIO

/// Errors in the words an operator acts on: the server's message with its SQLSTATE, or why the
/// server could not be reached.
extension PostgresSession {
    static func describe(_ error: Error) -> String {
        guard let psql = error as? PSQLError else { return "\(error)" }
        if let message = psql.serverInfo?[.message] {
            return "PostgreSQL error \(psql.serverInfo?[.sqlState] ?? "?"): \(message)"
        }
        if psql.code == .connectionError, let underlying = psql.underlying {
            return "PostgreSQL connection: " + unreachable(underlying)
        }
        return "PostgreSQL connection: \(psql.code)"
    }

    /// Why a server could not be reached, in the words an operator acts on: no such host, refused
    /// (nothing listens on that port), timed out (a firewall, a wrong address).
    static func unreachable(_ error: Error) -> String {
        if let failure = error as? NIOConnectionError {
            if failure.dnsAError != nil || failure.dnsAAAAError != nil, failure.connectionErrors.isEmpty {
                return
                    "no such host `\(failure.host)` (the name does not resolve); check the host in the policy or --database-url"
            }
            let reasons = failure.connectionErrors.map { unreachable($0.error) }
            return reasons.first ?? "cannot connect to \(failure.host):\(failure.port)"
        }
        if let unknown = error as? SocketAddressError.UnknownHost {
            return
                "no such host `\(unknown.host)` (the name does not resolve); check the host in the policy or --database-url"
        }
        if let io = error as? IOError {
            switch io.errnoCode {
            case ECONNREFUSED:
                return
                    "refused: no server listens on that host and port; check that PostgreSQL runs and the port in the policy or --database-url"
            case ETIMEDOUT: return "timed out: nothing answered; check the host, the port and any firewall between"
            case EHOSTUNREACH, ENETUNREACH: return "no route to that host; check the address and the network"
            default: return "\(io)"
            }
        }
        if case ChannelError.connectTimeout = error {
            return "timed out: nothing answered; check the host, the port and any firewall between"
        }
        return "\(error)"
    }
}
