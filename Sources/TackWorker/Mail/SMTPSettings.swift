/// How the worker reaches its mail relay.
///
/// Built once from the configuration; immutable afterwards. The description never shows the password,
/// so logging the settings is safe.
public struct SMTPSettings: Sendable {
    /// How the connection to the relay is protected. Raw values are the `mail.security` config values.
    public enum Security: String, Sendable, Hashable, CaseIterable {
        /// Plain TCP. Credentials are refused unless `allowInsecureAuth` is set.
        case none
        /// Plain TCP upgraded with STARTTLS before anything else is sent; the send fails when the
        /// relay does not offer STARTTLS, so a stripped capability cannot downgrade the connection.
        case startTLS = "starttls"
        /// TLS from the first byte ("implicit TLS", submissions port 465).
        case tls

        /// The port a relay usually listens on for this kind of security.
        public var defaultPort: Int {
            switch self {
            case .none: 25
            case .startTLS: 587
            case .tls: 465
            }
        }
    }

    /// Relay host name or IP address. With TLS, the certificate must be valid for it.
    public var host: String
    /// Relay TCP port.
    public var port: Int
    /// How the connection is protected.
    public var security: Security
    /// User name for AUTH PLAIN (or AUTH LOGIN when PLAIN is not offered); `nil` for no authentication.
    public var username: String?
    /// Password for AUTH; needed whenever `username` is set.
    public var password: String?
    /// Sends credentials over an unencrypted connection (`security == .none`). Only for relays on a
    /// trusted local network; off by default.
    public var allowInsecureAuth: Bool
    /// Name sent with EHLO/HELO, and the right-hand side of generated Message-IDs.
    public var helloName: String
    /// Limit for connecting and for each command's reply.
    public var timeout: Duration
    /// PEM file with CA certificates trusted in addition to the system's roots (private relays, tests).
    public var trustedRootsPEMFile: String?
    /// Envelope sender (MAIL FROM): where bounces go. The visible sender is `EmailMessage.from`.
    public var from: String

    /// Creates settings; `port` defaults to the usual port for `security` (25, 587 or 465).
    public init(
        host: String,
        port: Int? = nil,
        security: Security = .startTLS,
        username: String? = nil,
        password: String? = nil,
        allowInsecureAuth: Bool = false,
        helloName: String = "localhost",
        timeout: Duration = .seconds(10),
        trustedRootsPEMFile: String? = nil,
        from: String
    ) {
        self.host = host
        self.port = port ?? security.defaultPort
        self.security = security
        self.username = username
        self.password = password
        self.allowInsecureAuth = allowInsecureAuth
        self.helloName = helloName
        self.timeout = timeout
        self.trustedRootsPEMFile = trustedRootsPEMFile
        self.from = from
    }
}

extension SMTPSettings: CustomStringConvertible {
    /// Every field except the password.
    public var description: String {
        "SMTPSettings(host: \(host), port: \(port), security: \(security), username: \(username ?? "nil"), "
            + "password: \(password == nil ? "nil" : "<redacted>"), allowInsecureAuth: \(allowInsecureAuth), "
            + "helloName: \(helloName), timeout: \(timeout), trustedRootsPEMFile: \(trustedRootsPEMFile ?? "nil"), "
            + "from: \(from))"
    }
}

extension SMTPSettings {
    /// The credentials to authenticate with, after checking that they may be sent on this connection.
    func checkedCredentials() throws(SMTPError) -> (username: String, password: String)? {
        guard let username, let password else {
            if username != nil || password != nil {
                throw SMTPError(code: .invalidConfiguration, detail: "SMTP username and password must be set together")
            }
            return nil
        }
        if security == .none && !allowInsecureAuth {
            throw SMTPError(
                code: .insecureAuthentication,
                detail: "refusing to send SMTP credentials over an unencrypted connection: "
                    + "use security startTLS or tls, or set allowInsecureAuth for a trusted local relay"
            )
        }
        return (username, password)
    }

    /// Rejects a hello name that could smuggle a second command into EHLO.
    func checkedHelloName() throws(SMTPError) -> String {
        guard !helloName.isEmpty, helloName.utf8.count <= 255,
            helloName.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        else {
            throw SMTPError(code: .invalidConfiguration, detail: "SMTP hello name must be printable ASCII without spaces")
        }
        return helloName
    }
}
