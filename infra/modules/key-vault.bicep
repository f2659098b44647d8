// Key Vault for the app's secrets: the chat integration's signing secret, the SMTP password
// (when an SMTP relay is used instead of Azure Communication Services) and the Entra ID app
// registration's client secret. App settings reference them as
// @Microsoft.KeyVault(SecretUri=...) without a version, so a new version is picked up
// without a deployment. Access is by Azure RBAC only.

@description('Name of the vault (3-24 characters).')
param name string

@description('Azure region.')
param location string

@description('Tags for the resource.')
param tags object = {}

@description('Object ID of the app identity, which reads secrets.')
param readerPrincipalId string

@description('Object ID of the deploying developer, who may set and rotate secrets (optional).')
param officerPrincipalId string = ''

@description('Kind of principal of officerPrincipalId.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param officerPrincipalType string = 'User'

@secure()
@description('Secret that signs chat webhook bodies (HELPDESK_CHAT_SECRET).')
param chatSecret string

@secure()
@description('Secret that signs the requester portal\'s links (HELPDESK_PORTAL_SECRET).')
param portalSecret string

@secure()
@description('SMTP password, when an SMTP relay sends the mail (empty: no secret written).')
param smtpPassword string = ''

@secure()
@description('Client secret of the Entra ID app registration used by App Service Authentication (empty: not written).')
param authClientSecret string = ''

var secretsUser = '4633458b-17de-408a-b874-0445c86b69e6'
var secretsOfficer = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: Flex Consumption without a virtual network reads the vault over its public endpoint; every call needs an Entra ID token and an RBAC role.
  // checkov:skip=CKV_AZURE_189: Public network access stays on for Flex Consumption without a virtual network; RBAC and Entra ID guard every call.
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    // A deleted vault (and its name) stays recoverable for 90 days and cannot be purged.
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource chat 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  // checkov:skip=CKV_AZURE_41: An expiry date would silently break the chat integration; rotation is a redeployment (docs/deploy.md, Rotating keys).
  parent: vault
  name: 'helpdesk-chat-secret'
  properties: {
    value: chatSecret
    contentType: 'text/plain'
  }
}

resource portal 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  // checkov:skip=CKV_AZURE_41: An expiry date would silently break every portal link; rotation is a redeployment (docs/deploy.md, Rotating keys).
  parent: vault
  name: 'helpdesk-portal-secret'
  properties: {
    value: portalSecret
    contentType: 'text/plain'
  }
}

resource smtp 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(smtpPassword)) {
  // checkov:skip=CKV_AZURE_114: contentType is set below; checkov does not read the properties of a conditional resource.
  // checkov:skip=CKV_AZURE_41: The SMTP provider decides when the password expires; rotation is described in docs/deploy.md (Rotating keys).
  parent: vault
  name: 'smtp-password'
  properties: {
    value: smtpPassword
    contentType: 'text/plain'
  }
}

resource authSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(authClientSecret)) {
  // checkov:skip=CKV_AZURE_114: contentType is set below; checkov does not read the properties of a conditional resource.
  // checkov:skip=CKV_AZURE_41: The app registration's client secret carries its own expiry in Entra ID; rotation is described in docs/deploy.md (Rotating keys).
  parent: vault
  name: 'auth-client-secret'
  properties: {
    value: authClientSecret
    contentType: 'text/plain'
  }
}

resource reader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, readerPrincipalId, secretsUser)
  scope: vault
  properties: {
    principalId: readerPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsUser)
  }
}

resource officer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(officerPrincipalId)) {
  name: guid(vault.id, officerPrincipalId, secretsOfficer)
  scope: vault
  properties: {
    principalId: officerPrincipalId
    principalType: officerPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsOfficer)
  }
}

output id string = vault.id
output name string = vault.name
output uri string = vault.properties.vaultUri
