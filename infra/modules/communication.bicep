// Azure Communication Services Email for outbound mail: an Email Communication Service with
// an Azure-managed domain (DoNotReply@<guid>.azurecomm.net), linked to a Communication
// Services resource. Its connection string goes straight into Key Vault, never into an
// output or an app setting in clear.

@description('Name of the Communication Services resource.')
param name string

@description('Name of the Email Communication Service.')
param emailServiceName string

@description('Where the data is stored at rest, e.g. Europe or United States.')
param dataLocation string = 'Europe'

@description('Tags for the resources.')
param tags object = {}

@description('Name of the Key Vault that receives the connection string.')
param keyVaultName string

@description('Name of the secret that holds the connection string.')
param connectionSecretName string = 'acs-email-connection'

resource emailService 'Microsoft.Communication/emailServices@2023-04-01' = {
  name: emailServiceName
  location: 'global'
  tags: tags
  properties: {
    dataLocation: dataLocation
  }
}

resource domain 'Microsoft.Communication/emailServices/domains@2023-04-01' = {
  parent: emailService
  name: 'AzureManagedDomain'
  location: 'global'
  tags: tags
  properties: {
    domainManagement: 'AzureManaged'
    userEngagementTracking: 'Disabled'
  }
}

resource communication 'Microsoft.Communication/communicationServices@2023-04-01' = {
  name: name
  location: 'global'
  tags: tags
  properties: {
    dataLocation: dataLocation
    linkedDomains: [
      domain.id
    ]
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource connection 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  // checkov:skip=CKV_AZURE_41: The connection string holds an access key that is rotated with the resource's keys (docs/deploy.md, Rotating keys), not on a date.
  parent: vault
  name: connectionSecretName
  properties: {
    value: communication.listKeys().primaryConnectionString
    contentType: 'text/plain'
  }
}

output id string = communication.id
output name string = communication.name
output senderAddress string = 'DoNotReply@${domain.properties.mailFromSenderDomain}'
