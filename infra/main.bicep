// The help desk in Azure: everything the function app needs, in one resource group.
// `azd up` provisions it with main.parameters.json; `az deployment group create` works too
// (docs/deploy.md). One module per resource, in modules/.

targetScope = 'resourceGroup'

@minLength(1)
@maxLength(64)
@description('Name of the environment (azd env name), part of every resource name.')
param environmentName string

@description('Azure region for the resources; it must offer Flex Consumption.')
param location string = resourceGroup().location

@description('Object ID of the deploying developer: gets data roles on storage and may manage secrets. Empty: none.')
param principalId string = ''

@description('Kind of principal of principalId. azd passes the signed-in principal\'s kind (AZURE_PRINCIPAL_TYPE): ServicePrincipal in CI.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param principalType string = 'User'

@description('The help desk\'s name in pages and emails.')
param helpdeskName string = 'Help Desk'

@description('Erasing a requester: `remove` the text of their messages, or keep it `redact`ed.')
@allowed([
  'remove'
  'redact'
])
param erasureMode string = 'remove'

@description('Closed tickets older than this many months are erased daily; 0 keeps them.')
@minValue(0)
param retentionMonths int = 0

@description('The desk\'s time zone (IANA).')
param timezone string = 'UTC'

@description('Where Azure Communication Services keeps data at rest.')
param communicationDataLocation string = 'Europe'

@description('Display name of outgoing mail.')
param mailFromName string = 'Help Desk'

@secure()
@description('Secret that signs chat webhook bodies. azd generates one (or reads it back from the vault).')
param chatSecret string

@secure()
@description('Secret that signs the requester portal\'s links. azd generates one (or reads it back from the vault).')
param portalSecret string

@description('SMTP relay host, if mail should not go through Azure Communication Services.')
param smtpHost string = ''

@description('SMTP port.')
param smtpPort string = '587'

@description('SMTP user name.')
param smtpUsername string = ''

@description('SMTP sender address (with smtpHost; otherwise the Azure-managed domain\'s DoNotReply address is used).')
param smtpMailFrom string = ''

@secure()
@description('SMTP password (with smtpHost).')
param smtpPassword string = ''

@description('Application (client) ID of the Entra ID app registration for agent sign-in. Empty: App Service Authentication is not configured yet.')
param authClientId string = ''

@secure()
@description('Client secret of that app registration. Empty: sign-in uses the implicit flow (ID tokens), which needs none.')
param authClientSecret string = ''

@description('Storage replication.')
param storageSku string = 'Standard_LRS'

@description('Most instances the app scales out to.')
param maximumInstanceCount int = 40

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = '${abbrs.webSitesFunctions}helpdesk-${resourceToken}'
var deploymentContainerName = 'app-package'
// One condition for the sign-in client secret: key-vault.bicep writes it, the app setting
// references it and App Service Authentication names that setting only when one is given.
// A reference to a secret that was never written would reach Easy Auth as a literal string.
var hasAuthClientSecret = !empty(authClientSecret)

// Built-in roles (IDs from Azure's list of built-in roles).
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'

module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}helpdesk-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    skuName: storageSku
    deploymentContainerName: deploymentContainerName
  }
}

// The app: Blob Data Owner (Flex Consumption deploys from a container and the host keeps
// its leases in blobs), Queue Data Contributor (triggers, poison queues, sending),
// Table Data Contributor (tickets, index, directory).
module appStorageAccess 'modules/storage-access.bicep' = {
  name: 'app-storage-access'
  params: {
    storageAccountName: storage.outputs.name
    principalId: identity.outputs.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionIds: [
      storageBlobDataOwner
      storageQueueDataContributor
      storageTableDataContributor
    ]
  }
}

module developerStorageAccess 'modules/storage-access.bicep' = if (!empty(principalId)) {
  name: 'developer-storage-access'
  params: {
    storageAccountName: storage.outputs.name
    principalId: principalId
    principalType: principalType
    roleDefinitionIds: [
      storageBlobDataContributor
      storageQueueDataContributor
      storageTableDataContributor
    ]
  }
}

module logAnalytics 'modules/log-analytics.bicep' = {
  name: 'log-analytics'
  params: {
    name: '${abbrs.operationalInsightsWorkspaces}helpdesk-${resourceToken}'
    location: location
    tags: tags
  }
}

module appInsights 'modules/app-insights.bicep' = {
  name: 'app-insights'
  params: {
    name: '${abbrs.insightsComponents}helpdesk-${resourceToken}'
    location: location
    tags: tags
    workspaceId: logAnalytics.outputs.id
    publisherPrincipalId: identity.outputs.principalId
  }
}

module keyVault 'modules/key-vault.bicep' = {
  name: 'key-vault'
  params: {
    name: '${abbrs.keyVaultVaults}${resourceToken}'
    location: location
    tags: tags
    readerPrincipalId: identity.outputs.principalId
    officerPrincipalId: principalId
    officerPrincipalType: principalType
    chatSecret: chatSecret
    portalSecret: portalSecret
    smtpPassword: smtpPassword
    authClientSecret: authClientSecret
  }
}

module communication 'modules/communication.bicep' = {
  name: 'communication'
  params: {
    name: '${abbrs.communicationCommunicationServices}helpdesk-${resourceToken}'
    emailServiceName: '${abbrs.communicationEmailServices}helpdesk-${resourceToken}'
    dataLocation: communicationDataLocation
    tags: tags
    keyVaultName: keyVault.outputs.name
  }
}

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  params: {
    name: functionAppName
    planName: '${abbrs.webServerFarms}helpdesk-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: deploymentContainerName
    appInsightsConnectionString: appInsights.outputs.connectionString
    keyVaultUri: keyVault.outputs.uri
    maximumInstanceCount: maximumInstanceCount
    helpdeskName: helpdeskName
    timezone: timezone
    erasureMode: erasureMode
    retentionMonths: retentionMonths
    mailFrom: empty(smtpHost) ? communication.outputs.senderAddress : smtpMailFrom
    mailFromName: mailFromName
    smtpHost: smtpHost
    smtpPort: smtpPort
    smtpUsername: smtpUsername
    hasSmtpPassword: !empty(smtpPassword)
    hasAuthClientSecret: hasAuthClientSecret
  }
  // The app reads Key Vault references and storage as soon as it exists.
  dependsOn: [
    appStorageAccess
  ]
}

module appAuth 'modules/app-auth.bicep' = if (!empty(authClientId)) {
  name: 'app-auth'
  params: {
    functionAppName: functionApp.outputs.name
    clientId: authClientId
    hasClientSecret: hasAuthClientSecret
  }
}

// azd writes these into the environment (.azure/<env>/.env).
output AZURE_LOCATION string = location
output AZURE_RESOURCE_GROUP string = resourceGroup().name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output HELPDESK_URL string = 'https://${functionApp.outputs.defaultHostName}'
