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
        let first = try Self.load(files, try PEMFiles(files))
        self.loaded = Mutex(first)
        self.expiryGauge = metrics?.makeTLSCertificateExpiry()
        expiryGauge?.record(first.expiry)
        logger.info("serving TLS", metadata: ["certificate": "\(files.certificatePath)", "not_after": "\(Self.text(first.expiry))"])
    }

    /// The context for a connection accepted now.
    var context: NIOSSLContext { loaded.withLock { $0.context } }

    /// Reads the files again and switches to them if they changed and can be used.
    public func reload(reason: ReloadReason) {
        reloading.withLock { lastFailure in
            func report(_ error: any Error, digest: Data?) {
                let failure = Failure(digest: digest, message: "\(error)")
                guard failure != lastFailure else { return }
                lastFailure = failure
                logger.error(
                    "could not load the new TLS certificate; still serving the current one",
                    metadata: ["reason": "\(reason)", "error": "\(error)"])
            }
            let pem: PEMFiles
            do {
                pem = try PEMFiles(files)
            } catch {
                report(error, digest: nil)
                return
            }
            let digest = pem.digest
            if digest == loaded.withLock({ $0.digest }) {
                lastFailure = nil
                // An operator who sent SIGHUP wants to see it was received.
                logger.log(level: reason == .signal ? .info : .debug, "TLS certificate unchanged", metadata: ["reason": "\(reason)"])
                return
            }
            if let lastFailure, lastFailure.digest == digest { return }
            let next: Loaded
            do {
                next = try Self.load(files, pem)
            } catch {
                report(error, digest: digest)
                return
            }
            lastFailure = nil
            loaded.withLock { $0 = next }
            expiryGauge?.record(next.expiry)
            logger.notice(
                "TLS certificate reloaded",
                metadata: ["reason": "\(reason)", "certificate": "\(files.certificatePath)", "not_after": "\(Self.text(next.expiry))"])
        }
    }

    /// What made the server read the files again.
    public enum ReloadReason: String, Sendable, CustomStringConvertible {
        case signal = "SIGHUP"
        case poll = "periodic check"
        public var description: String { rawValue }
    }

    /// Both files' bytes, read once per reload, and their digest.
    private struct PEMFiles {
        let certificate: [UInt8]
        let key: [UInt8]
        let digest: Data

        init(_ files: TLSFiles) throws {
            certificate = try Self.read(files.certificatePath, "certificate")
            key = try Self.read(files.keyPath, "key")
            var hash = SHA256()
            hash.update(data: certificate)
            hash.update(data: key)
            digest = Data(hash.finalize())
        }

        private static func read(_ path: String, _ what: String) throws -> [UInt8] {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw TLSError.unusable("cannot read the TLS \(what) at \(path)")
            }
            return Array(data)
        }
    }

    private static func load(_ files: TLSFiles, _ pem: PEMFiles) throws -> Loaded {
        let (certificateBytes, keyBytes) = (pem.certificate, pem.key)
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
        return Loaded(context: context, digest: pem.digest, expiry: Int(leaf.notValidAfter))
    }

    private static func text(_ seconds: Int) -> String {
        Date(timeIntervalSince1970: TimeInterval(seconds)).ISO8601Format()
    }
}
