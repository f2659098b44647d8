// App Service Authentication (Easy Auth) with Microsoft Entra ID. Anonymous requests pass
// through, because the web form and the intake endpoints are public; the app itself answers
// 401/403 on agent endpoints from X-MS-CLIENT-PRINCIPAL and the app roles agent,
// supervisor and admin defined on the app registration (infra/entra-app-roles.json).

@description('Name of the function app.')
param functionAppName string

@description('Application (client) ID of the Entra ID app registration.')
param clientId string

@description('Tenant that issues the tokens.')
param tenantId string = tenant().tenantId

@description('Whether the client secret is in Key Vault (and referenced by MICROSOFT_PROVIDER_AUTHENTICATION_SECRET). Without one, sign-in uses the OpenID Connect implicit flow.')
param hasClientSecret bool = false

var registration = {
  openIdIssuer: '${environment().authentication.loginEndpoint}${tenantId}/v2.0'
  clientId: clientId
}
// checkov:skip=CKV_SECRET_6: This is the name of the app setting that holds the secret (a Key Vault reference), not a secret.
var secretSetting = hasClientSecret ? { clientSecretSettingName: 'MICROSOFT_PROVIDER_AUTHENTICATION_SECRET' } : {}

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource auth 'Microsoft.Web/sites/config@2024-04-01' = {
  // checkov:skip=CKV_AZURE_13: checkov takes this sites/config child for a web app; the site's own settings are checked in function-app.bicep.
  // checkov:skip=CKV_AZURE_63: checkov takes this sites/config child for a web app; the site's own settings are checked in function-app.bicep.
  // checkov:skip=CKV_AZURE_65: checkov takes this sites/config child for a web app; the site's own settings are checked in function-app.bicep.
  // checkov:skip=CKV_AZURE_66: checkov takes this sites/config child for a web app; the site's own settings are checked in function-app.bicep.
  // checkov:skip=CKV_AZURE_80: checkov takes this sites/config child for a web app; the site's own settings are checked in function-app.bicep.
  // checkov:skip=CKV_AZURE_88: checkov takes this sites/config child for a web app; the site's own settings are checked in function-app.bicep.
  // checkov:skip=CKV_AZURE_222: checkov takes this sites/config child for a web app; the site's own settings are checked in function-app.bicep.
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: false
      unauthenticatedClientAction: 'AllowAnonymous'
    }
    httpSettings: {
      requireHttps: true
    }
    login: {
      tokenStore: {
        // Flex Consumption has no shared file system, and a blob token store would need a SAS.
        enabled: false
      }
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: union(registration, secretSetting)
        validation: {
          allowedAudiences: [
            'api://${clientId}'
            clientId
          ]
        }
      }
    }
  }
}
