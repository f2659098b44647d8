// The storage account: tickets and their index in tables, attachments in blobs, ticket
// events and escalations in queues (with the poison queues the Functions host moves
// failing messages to), and the container Flex Consumption deploys the app package from.
// Only Microsoft Entra ID reaches it: shared keys (and so SAS and connection strings) are off.

@description('Name of the storage account (3-24 lowercase letters and digits).')
param name string

@description('Azure region.')
param location string

@description('Tags for the resource.')
param tags object = {}

@description('Replication. LRS is the cheapest; ZRS survives the loss of a zone.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_RAGRS'
])
param skuName string = 'Standard_LRS'

@description('The blob container Flex Consumption deploys the app package from.')
param deploymentContainerName string

// Every table, queue and container the code uses (shared/storage/clients.py and the
// queue triggers in functions/). tests/infra/test_infra_matches_code.py compares these
// lists with the code, both ways.
var tables = [
  'tickets'
  'ticketindex'
  'ticketclosed'
  'ticketrequesters'
  'ticketsearch'
  'idempotency'
  'directory'
  'ratelimits'
  'reports'
  'knowledge'
  'mailboxes'
  'presence'
  'audit'
  'erasures'
  'webhooks'
]
var queues = [
  'ticket-events'
  'ticket-events-poison'
  'escalations'
  'escalations-poison'
  'portal-links'
  'portal-links-poison'
  'mailbox-fetch'
  'mailbox-fetch-poison'
  'erasures'
  'erasures-poison'
  'webhook-deliveries'
  'webhook-deliveries-poison'
]
var containers = [
  'attachments'
  'search'
]

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: Flex Consumption without a virtual network reaches storage over its public endpoint; every request needs an Entra ID token (shared keys are off).
  // checkov:skip=CKV_AZURE_59: Public network access stays on for Flex Consumption without a virtual network; only Entra ID tokens with a data role get in.
  // checkov:skip=CKV_AZURE_206: Replication is the skuName parameter; LRS is the low-cost default, ZRS or GRS are one parameter away (docs/deploy.md).
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    publicNetworkAccess: 'Enabled'
    supportsHttpsTrafficOnly: true
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
          keyType: 'Account'
        }
        file: {
          enabled: true
          keyType: 'Account'
        }
        queue: {
          enabled: true
          keyType: 'Account'
        }
        table: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource appTables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [
  for table in tables: {
    parent: tableService
    name: table
  }
]

resource appQueues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [
  for queue in queues: {
    parent: queueService
    name: queue
  }
]

resource appContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [
  for container in containers: {
    parent: blobService
    name: container
    properties: {
      publicAccess: 'None'
    }
  }
]

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

output id string = account.id
output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
