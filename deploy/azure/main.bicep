// bonefrac on Azure Container Apps: the API and the UI, pulling from Azure Container Registry with a
// user-assigned managed identity (AcrPull; no registry admin credentials), API keys as Container Apps secrets,
// HTTP scale rules on concurrent requests, and probes on /healthz and /readyz. Ingress reaches the API through
// an nginx sidecar in the same replica (deploy/nginx/: the service's own header, body and timeout limits).
// Deploy with deploy.sh (see README.md). Resource group scope; the registry must already exist in this group.

targetScope = 'resourceGroup'

@description('Azure region; defaults to the resource group location.')
param location string = resourceGroup().location

@description('Short prefix for every resource name (letters, digits, dashes).')
@minLength(3)
@maxLength(20)
param namePrefix string = 'bonefrac'

@description('Name of the existing Azure Container Registry (in this resource group) that holds the images.')
param acrName string

@description('API image, repository:tag inside the registry, e.g. bonefrac-api:1.2.0')
param apiImage string

@description('UI image, repository:tag inside the registry, e.g. bonefrac-ui:1.2.0')
param uiImage string

@description('Reverse proxy image (deploy/Dockerfile.proxy), repository:tag inside the registry, e.g. bonefrac-proxy:1.2.0')
param proxyImage string

@description('Comma-separated API keys, each "key" or "id:key" (at least 8 characters). Stored as a secret.')
@secure()
param apiKeys string

@description('The key the UI sends to the API (one of apiKeys, without its "id:" prefix). Stored as a secret.')
@secure()
param uiApiKey string

@description('SQLAlchemy URL of the audit log, e.g. postgresql+psycopg://user:pass@host/db. Empty: SQLite inside each replica (lost on restart; fine only for trials).')
@secure()
param auditDbUrl string = ''

@description('Expose the API outside the environment (true) or only to the UI inside it (false).')
param apiExternal bool = true

@description('Concurrent HTTP requests per API replica before another replica is added.')
@minValue(1)
param apiConcurrentRequests int = 8

@minValue(0)
param apiMinReplicas int = 1

@minValue(1)
param apiMaxReplicas int = 5

@description('CPU cores and memory per API container (Container Apps pairs: 0.5/1Gi, 1/2Gi, 1.75/3.5Gi); its proxy sidecar adds 0.25/0.5Gi.')
param apiCpu string = '1.0'
param apiMemory string = '2Gi'

var acrPullRoleId = subscriptionResourceId(
  'Microsoft.Authorization/roleDefinitions',
  '7f951dda-4ed3-4680-a7ca-43fe172d538d'
)
var auditSecret = empty(auditDbUrl) ? [] : [
  {
    name: 'audit-db-url'
    value: auditDbUrl
  }
]
var auditEnv = empty(auditDbUrl) ? [
  {
    name: 'BONEFRAC_AUDIT_DB_URL'
    value: 'sqlite:////tmp/bonefrac-audit.db'
  }
] : [
  {
    name: 'BONEFRAC_AUDIT_DB_URL'
    secretRef: 'audit-db-url'
  }
]

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = {
  name: acrName
}

resource pullIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${namePrefix}-pull'
  location: location
}

resource acrPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, pullIdentity.id, acrPullRoleId)
  scope: registry
  properties: {
    principalId: pullIdentity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: acrPullRoleId
  }
}

resource logs 'Microsoft.OperationalInsights/workspaces@2022-10-01' = {
  name: '${namePrefix}-logs'
  location: location
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
  }
}

resource environment 'Microsoft.App/managedEnvironments@2024-03-01' = {
  name: '${namePrefix}-env'
  location: location
  properties: {
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: logs.properties.customerId
        sharedKey: logs.listKeys().primarySharedKey
      }
    }
  }
}

resource api 'Microsoft.App/containerApps@2024-03-01' = {
  name: '${namePrefix}-api'
  location: location
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${pullIdentity.id}': {}
    }
  }
  properties: {
    managedEnvironmentId: environment.id
    configuration: {
      activeRevisionsMode: 'Single'
      ingress: {
        external: apiExternal
        targetPort: 8080  // the proxy sidecar, which passes requests to the API on 127.0.0.1:8000
        transport: 'http'
        allowInsecure: false
      }
      registries: [
        {
          server: registry.properties.loginServer
          identity: pullIdentity.id
        }
      ]
      secrets: concat([
        {
          name: 'api-keys'
          value: apiKeys
        }
      ], auditSecret)
    }
    template: {
      containers: [
        {
          name: 'api'
          image: '${registry.properties.loginServer}/${apiImage}'
          resources: {
            cpu: json(apiCpu)
            memory: apiMemory
          }
          env: concat([
            {
              name: 'BONEFRAC_ENV'
              value: 'production'
            }
            {
              name: 'BONEFRAC_API_KEYS'
              secretRef: 'api-keys'
            }
          ], auditEnv)
          probes: [
            {
              type: 'Liveness'
              httpGet: {
                path: '/healthz'
                port: 8000
              }
              periodSeconds: 10
              failureThreshold: 3
            }
            {
              type: 'Readiness'
              httpGet: {
                path: '/readyz'
                port: 8000
              }
              periodSeconds: 5
              failureThreshold: 3
            }
            {
              type: 'Startup'
              httpGet: {
                path: '/readyz'
                port: 8000
              }
              periodSeconds: 5
              failureThreshold: 24
            }
          ]
        }
        {
          name: 'proxy'
          image: '${registry.properties.loginServer}/${proxyImage}'
          resources: {
            cpu: json('0.25')
            memory: '0.5Gi'
          }
          env: [
            {
              name: 'BONEFRAC_UPSTREAM'
              value: '127.0.0.1:8000'
            }
          ]
          probes: [
            {
              type: 'Liveness'
              tcpSocket: {
                port: 8080
              }
              periodSeconds: 10
              failureThreshold: 3
            }
          ]
        }
      ]
      scale: {
        minReplicas: apiMinReplicas
        maxReplicas: apiMaxReplicas
        rules: [
          {
            name: 'concurrent-requests'
            http: {
              metadata: {
                concurrentRequests: string(apiConcurrentRequests)
              }
            }
          }
        ]
      }
    }
  }
  dependsOn: [
    acrPull
  ]
}

resource ui 'Microsoft.App/containerApps@2024-03-01' = {
  name: '${namePrefix}-ui'
  location: location
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${pullIdentity.id}': {}
    }
  }
  properties: {
    managedEnvironmentId: environment.id
    configuration: {
      activeRevisionsMode: 'Single'
      ingress: {
        external: true
        targetPort: 8501
        transport: 'http'
        allowInsecure: false
        // Streamlit keeps a websocket per browser session: route a user back to the same replica.
        stickySessions: {
          affinity: 'sticky'
        }
      }
      registries: [
        {
          server: registry.properties.loginServer
          identity: pullIdentity.id
        }
      ]
      secrets: [
        {
          name: 'ui-api-key'
          value: uiApiKey
        }
      ]
    }
    template: {
      containers: [
        {
          name: 'ui'
          image: '${registry.properties.loginServer}/${uiImage}'
          resources: {
            cpu: json('0.5')
            memory: '1Gi'
          }
          env: [
            {
              name: 'BONEFRAC_API_URL'
              value: 'https://${api.properties.configuration.ingress.fqdn}'
            }
            {
              name: 'BONEFRAC_API_KEY'
              secretRef: 'ui-api-key'
            }
          ]
          probes: [
            {
              type: 'Liveness'
              httpGet: {
                path: '/_stcore/health'
                port: 8501
              }
              periodSeconds: 10
            }
            {
              type: 'Readiness'
              httpGet: {
                path: '/_stcore/health'
                port: 8501
              }
              periodSeconds: 5
            }
          ]
        }
      ]
      scale: {
        minReplicas: 1
        maxReplicas: 3
        rules: [
          {
            name: 'concurrent-requests'
            http: {
              metadata: {
                concurrentRequests: '20'
              }
            }
          }
        ]
      }
    }
  }
  dependsOn: [
    acrPull
  ]
}

output apiUrl string = 'https://${api.properties.configuration.ingress.fqdn}'
output uiUrl string = 'https://${ui.properties.configuration.ingress.fqdn}'
output pullIdentityClientId string = pullIdentity.properties.clientId
