import Configuration

/// Where `inlet serve` finds its certificate and key (PEM files) when it speaks TLS itself.
/// Without them it serves plain HTTP, for a load balancer that terminates TLS.
public struct TLSFiles: Sendable, Equatable {
    /// The certificate chain, leaf first (the usual `fullchain.pem`).
    public var certificatePath: String
    /// The private key of the leaf certificate (PKCS#8, RSA or EC, unencrypted).
    public var keyPath: String
    /// How often the files are read again to pick up a renewed certificate (SIGHUP reloads at
    /// once).
    public var reloadInterval: Duration

    public init(certificatePath: String, keyPath: String, reloadInterval: Duration = .seconds(10)) {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        self.reloadInterval = reloadInterval
    }

    /// Reads `INLET_TLS_CERT`, `INLET_TLS_KEY` (both, or neither: nil) and
    /// `INLET_TLS_RELOAD_INTERVAL_MS` (default `10000`).
    static func fromEnvironment(_ reader: ConfigReader) throws -> TLSFiles? {
        let certificate = reader.string(forKey: "inlet.tls.cert").flatMap { $0.isEmpty ? nil : $0 }
        let key = reader.string(forKey: "inlet.tls.key").flatMap { $0.isEmpty ? nil : $0 }
        switch (certificate, key) {
        case (nil, nil):
            return nil
        case (let certificate?, let key?):
            let interval = reader.int(forKey: "inlet.tls.reload.interval.ms", default: 10_000)
            guard interval > 0 else { throw TLSError.configuration("INLET_TLS_RELOAD_INTERVAL_MS must be positive, not \(interval)") }
            return TLSFiles(certificatePath: certificate, keyPath: key, reloadInterval: .milliseconds(interval))
        case (nil, _):
            throw TLSError.configuration("INLET_TLS_KEY is set but INLET_TLS_CERT is not: set both for TLS, or neither for plain HTTP")
        case (_, nil):
            throw TLSError.configuration("INLET_TLS_CERT is set but INLET_TLS_KEY is not: set both for TLS, or neither for plain HTTP")
        }
    }
}

/// Why TLS could not be set up.
public enum TLSError: Error, CustomStringConvertible, Equatable {
    case configuration(String)
    /// A file could not be read or parsed, or the key does not belong to the certificate.
    case unusable(String)

    public var description: String {
        switch self {
        case .configuration(let message), .unusable(let message): message
        }
    }
}
