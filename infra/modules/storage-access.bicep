// Role assignments on the storage account for one principal: the app's identity (blobs,
// queues, tables) or, optionally, the developer who deploys and wants to look at the data.

@description('Name of the storage account.')
param storageAccountName string

@description('Object ID of the principal that gets the roles.')
param principalId string

@description('Kind of principal.')
@allowed([
  'ServicePrincipal'
  'User'
  'Group'
])
param principalType string

@description('Built-in role definition IDs (GUIDs) to assign on the account.')
param roleDefinitionIds array

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource assignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in roleDefinitionIds: {
    name: guid(account.id, principalId, roleId)
    scope: account
    properties: {
      principalId: principalId
      principalType: principalType
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    }
  }
]
