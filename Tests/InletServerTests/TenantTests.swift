import Foundation
import InletServer
import InletTestSupport
import PostgresClient
import Testing

@Suite struct TenantTests {
    @Test func aCreatedTenantIsFoundByItsTokenWhichIsStoredOnlyAsAHash() throws {
        let connection = try TestDatabase.connect(try TestDatabase.createMigrated("tenants"))
        let store = TenantStore(connection: connection)
        let (tenant, token) = try store.create(name: "Acme")
        #expect(token.value.count == 43)  // 256 bits, base64url without padding
        #expect(token.value.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
        #expect(try store.tenant(authenticatedBy: token)?.id == tenant.id)
        #expect(try store.tenant(authenticatedBy: TenantToken.generate()) == nil)

        let plaintext = try connection.query(
            """
            SELECT count(*) FROM inlet.tenants t JOIN inlet.tenant_tokens k ON k.tenant_id = t.id
            WHERE t::text LIKE '%' || $1 || '%' OR k::text LIKE '%' || $1 || '%'
                OR encode(k.token_sha256, 'escape') LIKE '%' || $1 || '%'
            """, token.value
        ).first?.decode(Int.self, at: 0)
        #expect(plaintext == 0)
    }

    @Test func theEnableURLDecodesBackToTheTokenAndRedirect() throws {
        let token = TenantToken.generate()
        let redirect = "https://app.example.com/integrations/segment/done?tenant=7&x=a+b"
        let url = try #require(URLComponents(string: EnableURL(integration: "inlet", token: token, redirectURL: redirect).url))
        #expect(url.host == "app.segment.com")
        #expect(url.path == "/enable")
        let items = Dictionary(uniqueKeysWithValues: (url.queryItems ?? []).map { ($0.name, $0.value ?? "") })
        #expect(items["integration"] == "inlet")
        let settingsText = try #require(items["settings"])
        let settings = try #require(Data(base64Encoded: settingsText))
        #expect(try JSONSerialization.jsonObject(with: settings) as? [String: String] == ["apiKey": token.value])
        let redirectText = try #require(items["redirect_url"])
        let decodedRedirect = try #require(Data(base64Encoded: redirectText))
        #expect(String(decoding: decodedRedirect, as: UTF8.self) == redirect)
    }
}
