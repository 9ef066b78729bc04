import CoreMetrics
import Crypto
import Foundation
import Logging
import NIOSSL
import Synchronization

/// The TLS context new connections get, and the files it was made from.
///
/// A renewed certificate replaces the context for connections accepted afterwards; connections
/// already open keep theirs. Files that cannot be used (a key written before its certificate,
/// say, in the middle of a renewal) leave the current context in place, and are tried again at
/// the next reload.
public final class CertificateStore: Sendable {
    private struct Loaded {
        let context: NIOSSLContext
        /// SHA-256 of both files' bytes: a reload with the same bytes changes nothing.
        let digest: Data
        /// The leaf certificate's notAfter, in seconds since 1970.
        let expiry: Int
    }

    public let files: TLSFiles
    private let loaded: Mutex<Loaded>
    /// Serialises reloads (SIGHUP and the periodic check may coincide: the later one must not
    /// install files it read earlier) and remembers the last failure reported, so that files
    /// that cannot be used (a half-renewed pair, a key this user may not read) are reported once
    /// and again only when that changes, not at every check.
    private let reloading = Mutex<Failure?>(nil)
    private struct Failure: Equatable {
        let digest: Data?
        let message: String
    }
    private let expiryGauge: Gauge?
    private let logger: Logger

    /// Loads the files, or throws: `inlet serve` does not start with a certificate it cannot use.
    public init(files: TLSFiles, metrics: IngestMetrics? = nil, logger: Logger) throws {
        self.files = files
        self.logger = logger
        let first = try Self.load(files)
        self.loaded = Mutex(first)
        self.expiryGauge = metrics?.makeTLSCertificateExpiry()
        expiryGauge?.record(first.expiry)
        logger.info("serving TLS", metadata: ["certificate": "\(files.certificatePath)", "not_after": "\(Self.text(first.expiry))"])
    }

    /// The context for a connection accepted now.
    var context: NIOSSLContext { loaded.withLock { $0.context } }

    /// The served certificate's notAfter, in seconds since 1970.
    public var expiry: Int { loaded.withLock { $0.expiry } }

    /// Reads the files again and switches to them if they changed and can be used.
    /// - Returns: true if new connections now get a different certificate.
    @discardableResult
    public func reload(reason: ReloadReason) -> Bool {
        reloading.withLock { lastFailure in
            func report(_ error: any Error, digest: Data?) {
                let failure = Failure(digest: digest, message: "\(error)")
                guard failure != lastFailure else { return }
                lastFailure = failure
                logger.error(
                    "could not load the new TLS certificate; still serving the current one",
                    metadata: ["reason": "\(reason)", "error": "\(error)"])
            }
            let digest: Data
            do {
                digest = try Self.digest(files)
            } catch {
                report(error, digest: nil)
                return false
            }
            if digest == loaded.withLock({ $0.digest }) {
                lastFailure = nil
                // An operator who sent SIGHUP wants to see it was received.
                logger.log(level: reason == .signal ? .info : .debug, "TLS certificate unchanged", metadata: ["reason": "\(reason)"])
                return false
            }
            if let lastFailure, lastFailure.digest == digest { return false }
            let next: Loaded
            do {
                next = try Self.load(files)
            } catch {
                report(error, digest: digest)
                return false
            }
            lastFailure = nil
            loaded.withLock { $0 = next }
            expiryGauge?.record(next.expiry)
            logger.notice(
                "TLS certificate reloaded",
                metadata: ["reason": "\(reason)", "certificate": "\(files.certificatePath)", "not_after": "\(Self.text(next.expiry))"])
            return true
        }
    }

    /// What made the server read the files again.
    public enum ReloadReason: String, Sendable, CustomStringConvertible {
        case signal = "SIGHUP"
        case poll = "periodic check"
        public var description: String { rawValue }
    }

    private static func read(_ path: String, _ what: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TLSError.unusable("cannot read the TLS \(what) at \(path)")
        }
        return Array(data)
    }

    private static func digest(_ files: TLSFiles) throws -> Data {
        var hash = SHA256()
        hash.update(data: try read(files.certificatePath, "certificate"))
        hash.update(data: try read(files.keyPath, "key"))
        return Data(hash.finalize())
    }

    private static func load(_ files: TLSFiles) throws -> Loaded {
        let certificateBytes = try read(files.certificatePath, "certificate")
        let keyBytes = try read(files.keyPath, "key")
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMBytes(certificateBytes)
        } catch {
            throw TLSError.unusable("\(files.certificatePath) is not a PEM certificate chain (\(error))")
        }
        guard let leaf = chain.first else { throw TLSError.unusable("\(files.certificatePath) holds no certificate") }
        do {
            key = try NIOSSLPrivateKey(bytes: keyBytes, format: .pem)
        } catch {
            throw TLSError.unusable("\(files.keyPath) is not an unencrypted PEM private key (\(error))")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        // TLS 1.2 is the floor of AWS's and Segment's clients alike; 1.0 and 1.1 are broken.
        configuration.minimumTLSVersion = .tlsv12
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            // Mostly a key that does not belong to the certificate (BoringSSL checks that here).
            throw TLSError.unusable(
                "cannot use the certificate in \(files.certificatePath) with the key in \(files.keyPath) (\(error)): does the key belong to the certificate?")
        }
        var hash = SHA256()
        hash.update(data: certificateBytes)
        hash.update(data: keyBytes)
        return Loaded(context: context, digest: Data(hash.finalize()), expiry: Int(leaf.notValidAfter))
    }

    private static func text(_ seconds: Int) -> String {
        Date(timeIntervalSince1970: TimeInterval(seconds)).ISO8601Format()
    }
}
